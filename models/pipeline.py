"""One document through the whole flow: clean and split, translate, summarise, record."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from .document import (
    MOSTLY_NON_ARABIC,
    NOT_ARABIC,
    SPLIT_AT_LENGTH_LIMIT,
    Document,
    Paragraph,
    Segment,
)
from .errors import InputError
from .text import arabic_ratio, normalize, split_paragraphs, split_sentences

MIN_ARABIC_RATIO = 0.5  # below this share of Arabic letters, the document carries a warning


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("khulasa")
    except PackageNotFoundError:
        return "0+unknown"


def segment(text: str) -> Document:
    """The untranslated Document for `text`: paragraphs of sentences with global indices.
    Raises InputError for text with nothing to translate."""
    clean = normalize(text)
    if not clean:
        raise InputError("The input is empty: paste or pass some Arabic text.", "empty_input")
    paragraphs, index = [], 0
    for block in split_paragraphs(clean):
        segments = []
        for sentence in split_sentences(block):
            flags = [] if arabic_ratio(sentence) > 0 else [NOT_ARABIC]
            segments.append(Segment(index, sentence, None, flags))
            index += 1
        paragraphs.append(Paragraph(segments))
    warnings = [MOSTLY_NON_ARABIC] if arabic_ratio(clean) < MIN_ARABIC_RATIO else []
    return Document(paragraphs, meta={"warnings": warnings})


@dataclass
class Pipeline:
    """A translator and an optional summariser, applied to whole documents."""

    translator: object  # models.translate.Translator or anything with its interface
    summarizer: object | None = None  # ExtractiveSummarizer | AbstractiveSummarizer | None

    def stream(self, text: str, summary: bool = True,
               summary_sentences: int | None = None) -> Iterator[Document]:
        """Yield the same Document as it fills: after segmentation, after each translated
        batch, and once more with the summary. The last one yielded is complete."""
        started = time.perf_counter()
        doc = segment(text)
        doc.meta.update(self._meta())
        yield doc
        segments = doc.segments
        pieces: list[str] = []
        owner: list[int] = []  # piece -> position in `segments`
        for pos, seg in enumerate(segments):
            parts = self.translator.pieces(seg.source)
            if len(parts) > 1:
                seg.flags.append(SPLIT_AT_LENGTH_LIMIT)
            pieces += parts
            owner += [pos] * len(parts)
        english: list[str | None] = [None] * len(pieces)
        remaining = [0] * len(segments)
        for pos in owner:
            remaining[pos] += 1
        for pairs in self.translator.translate_iter(pieces):
            for i, text_en in pairs:
                english[i] = text_en
                remaining[owner[i]] -= 1
                if remaining[owner[i]] == 0:
                    mine = [english[j] for j, o in enumerate(owner) if o == owner[i]]
                    segments[owner[i]].english = " ".join(e for e in mine if e)
            doc.meta["timings_ms"]["translate"] = _ms(started)
            yield doc
        self._mark_memory_hits(doc)
        if summary and self.summarizer is not None:
            t0 = time.perf_counter()
            doc.summary = self.summarizer.summarize(
                [(s.index, s.english or "") for s in segments], summary_sentences)
            doc.meta["timings_ms"]["summarize"] = _ms(t0)
        doc.meta["timings_ms"]["total"] = _ms(started)
        yield doc

    def process(self, text: str, summary: bool = True,
                summary_sentences: int | None = None) -> Document:
        """Translate (and summarise) `text`; the complete Document."""
        *_, doc = self.stream(text, summary, summary_sentences)  # the same Document each time
        return doc

    def _meta(self) -> dict:
        summarizer = (self.summarizer.settings if self.summarizer is not None
                      else {"model": "none", "mode": "none"})
        return {"translator": dict(self.translator.settings), "summarizer": summarizer,
                "timings_ms": {"translate": 0, "summarize": 0}, "version": version()}

    def _mark_memory_hits(self, doc: Document) -> None:
        hits = getattr(self.translator, "last_hits", None)
        if hits:
            from .document import FROM_MEMORY

            for seg in doc.segments:
                if seg.source in hits and FROM_MEMORY not in seg.flags:
                    seg.flags.append(FROM_MEMORY)


def _ms(since: float) -> int:
    return round((time.perf_counter() - since) * 1000)
