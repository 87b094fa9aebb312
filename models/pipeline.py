"""One document through the whole flow: clean and split, translate, summarise, record."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .checks import (
    DEFAULT_LOW_CONFIDENCE,
    EXPLANATIONS,
    LOW_CONFIDENCE_BELOW,
    RETRIED,
    RETRY_FLAGS,
    UNSUPPORTED_NAME,
    UNSUPPORTED_NUMBER,
    check_pair,
    check_summary,
    source_warnings,
)
from .document import (
    FROM_DESK,
    FROM_MEMORY,
    MOSTLY_NON_ARABIC,
    NOT_ARABIC,
    SPLIT_AT_LENGTH_LIMIT,
    VERIFIED,
    Document,
    Paragraph,
    Segment,
)
from .env import version, versions
from .errors import InputError, KhulasaError
from .glossary import GLOSSARY_APPLIED, NBEST, Glossary, choose, document_renderings, uses
from .interface import Translation, Translator, joined
from .names import flag_names
from .text import (
    arabic_ratio,
    check_unicode,
    is_arabic,
    normalize,
    split_paragraphs,
    split_sentences,
)

FIRST_BATCH = 2  # a stream's first sentences, each alone in a batch: the page shows text sooner


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
    warnings = [MOSTLY_NON_ARABIC] if not is_arabic(clean) else []
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
    checks: bool = True  # the trust checks (models/checks.py) and second tries
    glossary: Glossary | None = None  # pinned spellings (models/glossary.py), unless a call's

    def stream(
        self,
        text: str,
        summary: bool = True,
        summary_sentences: int | None = None,
        first_batch: int | None = FIRST_BATCH,
        glossary: Glossary | None = None,
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
        if self._retry([doc]):
            doc.meta["timings_ms"]["translate"] = _ms(started)
            yield doc
        if self._pin([doc], self.glossary if glossary is None else glossary):
            doc.meta["timings_ms"]["translate"] = _ms(started)
            yield doc
        if self.checks:
            flag_names(doc)  # a document's check: one name written two ways
        if summary:
            self._summarize(doc, summary_sentences)
        doc.meta["trust"] = trust_counts(doc)
        doc.meta["timings_ms"]["total"] = _ms(started)
        yield doc

    def process(
        self,
        text: str,
        summary: bool = True,
        summary_sentences: int | None = None,
        glossary: Glossary | None = None,
    ) -> Document:
        """Translate (and summarise) `text`; the complete Document. Nobody watches it fill,
        so there is no small first batch (it costs throughput)."""
        *_, doc = self.stream(text, summary, summary_sentences, None, glossary)
        return doc

    def process_many(
        self,
        texts: list[str],
        summary: bool = True,
        summary_sentences: int | None = None,
        alternatives: int = 0,
        progress: Callable[[int, int], None] | None = None,
        glossary: Glossary | None = None,
    ) -> list[Document | KhulasaError]:
        """Several documents whose sentences share model batches (length-sorted across
        documents). One result per text, in order: a Document, or the error that stopped it.
        `alternatives` > 0 decodes that many further translations of every segment in the
        same batches (`Segment.alternatives`; not part of the Document JSON). `progress` is
        called with (sentences translated, sentences) after each batch."""
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
        total = sum(len(d.segments) for d in docs)
        for done in self._translate(docs, n=alternatives + 1):
            if progress is not None:
                progress(done, total)
        self._retry(docs)  # the alternatives stay the first try's
        self._pin(docs, self.glossary if glossary is None else glossary)
        if self.checks:
            for doc in docs:
                flag_names(doc)
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
            doc.meta["trust"] = trust_counts(doc)
        return results

    def english_document(self, text: str) -> Document:
        """An English document passed through: each sentence is its own English, no model
        runs (the coverage digest reads English reports beside Arabic ones)."""
        started = time.perf_counter()
        doc = segment(text)
        for seg in doc.segments:
            seg.english, seg.flags = seg.source, []
        doc.source_language = "en"
        doc.meta.update(self._meta())
        doc.meta["warnings"] = []
        doc.meta["translator"] = {"model": "none", "mode": "english_source"}
        doc.meta["trust"] = trust_counts(doc)
        doc.meta["timings_ms"]["total"] = _ms(started)
        return doc

    def summarize_english(self, text: str, summary_sentences: int | None = None) -> Document:
        """An English text summarised as it is: its own sentences, no translation (REST
        `/summarize` with English text)."""
        doc = self.english_document(text)
        self._summarize(doc, summary_sentences)
        return doc

    def _translate(
        self, docs: list[Document], first_batch: int | None = None, n: int = 1
    ) -> Iterator[int]:
        """Fill in every segment's English (and, for n > 1, its n - 1 alternatives), one model
        batch at a time (yields the segments done after each). A piece that occurs several
        times (the same sentence in several documents) is translated once. A segment
        translated in pieces is joined back, the k-th alternative from each piece's k-th
        hypothesis."""
        segments = [seg for doc in docs for seg in doc.segments]
        owner_doc = [doc for doc in docs for _ in doc.segments]
        pieces: list[str] = []  # distinct pieces: a sentence repeated (wire copies) goes once
        first: dict[str, int] = {}
        spans: list[list[int]] = []  # segment position -> its pieces
        users: list[list[int]] = []  # piece -> the segment positions that wait for it
        for pos, seg in enumerate(segments):
            parts = self.translator.pieces(seg.source)
            if len(parts) > 1:
                seg.flags.append(SPLIT_AT_LENGTH_LIMIT)
            span = []
            for part in parts:
                if part not in first:
                    first[part] = len(pieces)
                    pieces.append(part)
                    users.append([])
                span.append(first[part])
                users[first[part]].append(pos)
            spans.append(span)
        results: list[Translation | None] = [None] * len(pieces)
        remaining = [len(span) for span in spans]
        finished = 0
        for batch in self.translator.translate_iter(pieces, n, first_batch):
            for result in batch:
                results[result.index] = result
                for pos in users[result.index]:
                    remaining[pos] -= 1
                    if remaining[pos] == 0:
                        finished += 1
                        done = [results[k] for k in spans[pos]]
                        self._fill(segments[pos], done, n)
                        if self.mark_memory and all(r.from_memory for r in done):
                            segments[pos].flags.append(FROM_MEMORY)
                            owner_doc[pos].meta["memory_hits"] += 1
            yield finished

    def _fill(self, seg: Segment, done: list[Translation], n: int) -> None:
        """A segment's English, score and check flags from its pieces' translations."""

        seg.english, seg.score = joined(done, 0)
        seg.alternatives = [joined(done, k)[0] for k in range(1, n)]
        if all(r.verified for r in done):  # a person's English: not the model's to check
            mark = FROM_DESK if all(r.desk for r in done) else VERIFIED
            seg.flags = [f for f in seg.flags if f not in TRUST_FLAGS] + [mark]
        elif self.checks:
            seg.flags = [f for f in seg.flags if f not in TRUST_FLAGS] + check_pair(
                seg.source, seg.english, seg.score, self.threshold
            )

    @property
    def threshold(self) -> float:
        model = self.translator.settings.get("model")
        return LOW_CONFIDENCE_BELOW.get(model, DEFAULT_LOW_CONFIDENCE)

    def _retry(self, docs: list[Document]) -> bool:
        """Translate once more, with the second-try decoding, every segment flagged for a
        fault that decoding can fix; keep the better try (fewer flags, then higher score).
        Never more than one retry per segment. Returns whether anything was retried."""
        todo = [
            s
            for d in docs
            for s in d.segments
            if self.checks and RETRIED not in s.flags and any(f in s.flags for f in RETRY_FLAGS)
        ]
        if not todo:
            return False
        for seg, done in zip(todo, self._translate_again(todo, retry=True), strict=True):
            trial = Segment(seg.index, seg.source, flags=[])
            self._fill(trial, done, 1)
            if (len(trial.flags), -(trial.score or 0)) < (len(_trust(seg)), -(seg.score or 0)):
                seg.english, seg.score = trial.english, trial.score
                seg.flags = [f for f in seg.flags if f not in TRUST_FLAGS] + trial.flags
            seg.flags.append(RETRIED)
        for doc in docs:
            doc.meta["trust"] = trust_counts(doc)
        return True

    def _translate_again(
        self, segments: list[Segment], n: int = 1, retry: bool = False
    ) -> list[list[Translation]]:
        """Each segment's pieces translated once more (`n` best; `retry`: the second-try
        decoding), a piece shared by several segments once: per segment, its pieces'
        Translations in order."""
        pieces: list[str] = []  # distinct, as in _translate
        first: dict[str, int] = {}
        spans = []
        for seg in segments:
            span = []
            for part in self.translator.pieces(seg.source):
                if part not in first:
                    first[part] = len(pieces)
                    pieces.append(part)
                span.append(first[part])
            spans.append(span)
        results: list[Translation | None] = [None] * len(pieces)
        for batch in self.translator.translate_iter(pieces, n, retry=retry):
            for result in batch:
                results[result.index] = result
        return [[results[k] for k in span] for span in spans]

    def _pin(self, docs: list[Document], glossary: Glossary | None) -> bool:
        """Pinned spellings on every sentence that holds a glossary term (models/glossary.py):
        kept when the English uses them, else the best of the model's NBEST wordings that
        does, else the model's words for the term replaced where the document shows them,
        else marked. Sentences without a term are not touched. Whether any English changed."""
        if not glossary:
            return False
        todo = []
        for doc in docs:
            for seg in doc.segments:
                terms = glossary.in_sentence(seg.source) if seg.english is not None else []
                if not terms:
                    continue
                if all(uses(seg.english, t.english) for t in terms):
                    seg.glossary = [{"ar": t.arabic, "en": t.english, "how": "as_translated"}
                                    for t in terms]  # fmt: skip
                else:
                    todo.append((doc, seg, terms))
        if not todo:
            return False
        nbest = self._translate_again([seg for _, seg, _ in todo], n=NBEST)
        forms = {}
        for (doc, seg, terms), done in zip(todo, nbest, strict=True):
            if id(doc) not in forms:
                pairs = [(s.source, s.english or "") for s in doc.segments]
                forms[id(doc)] = document_renderings(list(glossary.terms), pairs)
            wordings = [joined(done, k) for k in range(NBEST)]
            english, score, seg.glossary, flags = choose(
                terms, (seg.english, seg.score), wordings, forms[id(doc)]
            )
            if english != seg.english:
                seg.english, seg.score = english, score
                kept = [f for f in seg.flags if f not in TRUST_FLAGS and f != GLOSSARY_APPLIED]
                checked = (
                    check_pair(seg.source, english, score, self.threshold) if self.checks else []
                )
                seg.flags = kept + checked
            seg.flags += [f for f in flags if f not in seg.flags]
        for doc in docs:
            doc.meta["trust"] = trust_counts(doc)
        return True

    def _summarize(self, doc: Document, sentences: int | None) -> None:
        if self.summarizer is None:
            return
        t0 = time.perf_counter()
        segments = [(s.index, s.english or "") for s in doc.segments]
        doc.summary = self.summarizer.summarize(segments, sentences)
        self.check_summary(doc)
        doc.meta["timings_ms"]["summarize"] = _ms(t0)

    def check_summary(self, doc: Document) -> None:
        """Each key point's own checks (an abstractive one's numbers and names against the
        English), the warnings of the sentences it rests on, and the document's counts; made
        again whenever a sentence's English changes (another wording chosen)."""
        english = {s.index: s.english or "" for s in doc.segments}
        abstractive = self.summarizer is not None and (
            self.summarizer.settings.get("mode") == "abstractive"
        )
        flags = {seg.index: seg.flags for seg in doc.segments}
        for s in doc.summary:
            if self.checks and abstractive:
                s.flags = [f for f in s.flags if f not in SUMMARY_CHECKS] + check_summary(
                    s.text, [english[i] for i in s.sources], list(english.values())
                )
            s.source_flags = source_warnings(s.sources, flags)
        doc.meta["trust"] = trust_counts(doc)

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


TRUST_FLAGS = frozenset(EXPLANATIONS) - {RETRIED}
SUMMARY_CHECKS = (UNSUPPORTED_NUMBER, UNSUPPORTED_NAME)  # what check_summary finds


def _trust(seg: Segment) -> list[str]:
    return [f for f in seg.flags if f in TRUST_FLAGS]


def trust_counts(doc: Document) -> dict:
    """`meta.trust`: how many sentences carry each check's flag, and the summary's."""
    flags: dict[str, int] = {}
    for seg in doc.segments:
        for f in seg.flags:
            if f in EXPLANATIONS:
                flags[f] = flags.get(f, 0) + 1
    summary: dict[str, int] = {}
    for s in doc.summary:
        for f in s.flags:
            if f in EXPLANATIONS:
                summary[f] = summary.get(f, 0) + 1
    to_check = sum(bool(_trust(s)) for s in doc.segments)
    return {
        "sentences": len(doc.segments),
        "to_check": to_check,
        "flags": flags,
        "summary_flags": summary,
    }


def _ms(since: float) -> int:
    return round((time.perf_counter() - since) * 1000)
