"""One document through the whole flow: clean and split, translate, summarise, record."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .document import (
    FROM_MEMORY,
    MOSTLY_NON_ARABIC,
    NOT_ARABIC,
    SPLIT_AT_LENGTH_LIMIT,
    Document,
    Paragraph,
    Segment,
)
from .env import version, versions
from .errors import InputError, KhulasaError
from .interface import Translator
from .text import arabic_ratio, check_unicode, normalize, split_paragraphs, split_sentences

MIN_ARABIC_RATIO = 0.5  # below this share of Arabic letters, the document carries a warning
FIRST_BATCH = 2  # sentences in a stream's first model batch: the page shows text sooner


def segment(text: str) -> Document:
    """The untranslated Document for `text`: paragraphs of sentences with global indices.
    Raises InputError for text with nothing to translate or text that is not valid Unicode."""
    check_unicode(text, "The input")
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
    """A translator and an optional summariser, applied to whole documents.

    `mark_memory`: whether segments answered by the sentence memory say so (`from_memory`
    flag, `memory_hits` in meta). Off on a server: one visitor must not learn what another
    submitted."""

    translator: Translator
    summarizer: object | None = None  # ExtractiveSummarizer | AbstractiveSummarizer | None
    mark_memory: bool = True
    memory: object | None = None  # the SentenceMemory in front of the translator, if any
    warnings: list[str] = field(default_factory=list)  # set up with a problem (e.g. memory)

    def stream(
        self,
        text: str,
        summary: bool = True,
        summary_sentences: int | None = None,
        first_batch: int | None = FIRST_BATCH,
    ) -> Iterator[Document]:
        """Yield the same Document as it fills: after segmentation, after each translated
        batch, and once more with the summary. The last one yielded is complete.
        `first_batch` sentences go first, alone, so a reader sees text sooner."""
        started = time.perf_counter()
        doc = segment(text)
        doc.meta.update(self._meta())
        yield doc
        for _ in self._translate([doc], first_batch=first_batch):
            doc.meta["timings_ms"]["translate"] = _ms(started)
            yield doc
        if summary:
            self._summarize(doc, summary_sentences)
        doc.meta["timings_ms"]["total"] = _ms(started)
        yield doc

    def process(
        self, text: str, summary: bool = True, summary_sentences: int | None = None
    ) -> Document:
        """Translate (and summarise) `text`; the complete Document. Nobody watches it fill,
        so there is no small first batch (it costs throughput)."""
        *_, doc = self.stream(text, summary, summary_sentences, first_batch=None)
        return doc

    def process_many(
        self,
        texts: list[str],
        summary: bool = True,
        summary_sentences: int | None = None,
        alternatives: int = 0,
    ) -> list[Document | KhulasaError]:
        """Several documents whose sentences share model batches (length-sorted across
        documents). One result per text, in order: a Document, or the error that stopped it.
        `alternatives` > 0 decodes that many further translations of every segment in the
        same batches (`Segment.alternatives`; not part of the Document JSON)."""
        started = time.perf_counter()
        results: list[Document | KhulasaError] = []
        for text in texts:
            try:
                doc = segment(text)
                doc.meta.update(self._meta())
                results.append(doc)
            except KhulasaError as exc:
                results.append(exc)
        docs = [d for d in results if isinstance(d, Document)]
        for _ in self._translate(docs, n=alternatives + 1):
            pass
        translate_ms = _ms(started)
        for i, doc in enumerate(results):
            if not isinstance(doc, Document):
                continue
            # Shared batches: the translation time is the batch's, per document.
            doc.meta["timings_ms"]["translate"] = round(translate_ms / max(1, len(docs)))
            if summary:
                try:
                    self._summarize(doc, summary_sentences)
                except KhulasaError as exc:
                    results[i] = exc
        return results

    def _translate(
        self, docs: list[Document], first_batch: int | None = None, n: int = 1
    ) -> Iterator[None]:
        """Fill in every segment's English (and, for n > 1, its n - 1 alternatives), one model
        batch at a time (yields after each). A segment translated in pieces is joined back,
        the k-th alternative from each piece's k-th hypothesis."""
        segments = [seg for doc in docs for seg in doc.segments]
        owner_doc = [doc for doc in docs for _ in doc.segments]
        pieces: list[str] = []
        spans: list[range] = []  # segment position -> its pieces
        owner: list[int] = []  # piece -> segment position
        for pos, seg in enumerate(segments):
            parts = self.translator.pieces(seg.source)
            if len(parts) > 1:
                seg.flags.append(SPLIT_AT_LENGTH_LIMIT)
            spans.append(range(len(pieces), len(pieces) + len(parts)))
            pieces += parts
            owner += [pos] * len(parts)
        hyps: list[tuple[str, ...]] = [()] * len(pieces)
        remembered = [False] * len(pieces)
        remaining = [len(span) for span in spans]
        for batch in self.translator.translate_iter(pieces, n, first_batch):
            for result in batch:
                j = result.index
                hyps[j], remembered[j] = result.hypotheses, result.from_memory
                pos = owner[j]
                remaining[pos] -= 1
                if remaining[pos] == 0:
                    self._fill(segments[pos], [hyps[k] for k in spans[pos]], n)
                    if self.mark_memory and all(remembered[k] for k in spans[pos]):
                        segments[pos].flags.append(FROM_MEMORY)
                        owner_doc[pos].meta["memory_hits"] += 1
            yield

    @staticmethod
    def _fill(seg: Segment, piece_hyps: list[tuple[str, ...]], n: int) -> None:
        def joined(k: int) -> str:
            return " ".join(e for e in (h[min(k, len(h) - 1)] for h in piece_hyps) if e)

        seg.english = joined(0)
        seg.alternatives = [joined(k) for k in range(1, n)]

    def _summarize(self, doc: Document, sentences: int | None) -> None:
        if self.summarizer is None:
            return
        t0 = time.perf_counter()
        doc.summary = self.summarizer.summarize(
            [(s.index, s.english or "") for s in doc.segments], sentences
        )
        doc.meta["timings_ms"]["summarize"] = _ms(t0)

    def _meta(self) -> dict:
        summarizer = (
            self.summarizer.settings
            if self.summarizer is not None
            else {"model": "none", "mode": "none"}
        )
        meta = {
            "translator": dict(self.translator.settings),
            "summarizer": summarizer,
            "timings_ms": {"translate": 0, "summarize": 0},
            "version": version(),
            "versions": dict(versions()),
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.mark_memory:
            meta["memory_hits"] = 0
        return meta


def _ms(since: float) -> int:
    return round((time.perf_counter() - since) * 1000)
