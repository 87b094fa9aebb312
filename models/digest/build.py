"""The coverage digest: many articles on one event in, one English digest out. Every document
translated (English ones passed through), copies grouped into stories, key points across the
coverage with their provenance and corroboration, and what each document alone reports.

The JSON is described by `digest.schema.json` (beside this file); `report.py` writes
the Markdown. Bad documents become per-document errors; the rest goes on.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..checks import EXPLANATIONS
from ..document import Document
from ..env import version, versions
from ..errors import InputError, KhulasaError
from ..names import flag_names_across
from ..pipeline import Pipeline
from ..report import title as document_title
from ..text import check_text, is_arabic
from .agreement import contradicts
from .coverage import (
    MIN_CONTENT,
    Coverage,
    Unit,
    link_coverage,
    report_words,
    restates,
    wire_agency,
)
from .key_points import OFF_TOPIC, KeyPoint
from .key_points import key_points as pick_key_points

SCHEMA = Path(__file__).resolve().parent / "digest.schema.json"
DIGEST_POINTS = 5
# A sentence whose content words are this share of another sentence of its story restates it
# (a copy's new headline over the same lead): not something only its article reports.
RESTATED = 0.6
# English function words: a Latin-script text with too few of them is not English.
_ENGLISH = frozenset(
    "the of and to is that for with was by from it said he has have are were be this which "
    "not but had its after will would their they".split()
)  # none of them a common word in French, Spanish, Italian or German
Progress = Callable[[str, int, int], None]  # (stage, done, total); "translate" first


@dataclass
class DigestInput:
    """One article of the coverage. `error`: a problem found while reading it."""

    id: str
    text: str | None
    title: str | None = None
    outlet: str | None = None
    date: str | None = None
    error: KhulasaError | None = None


@dataclass(frozen=True)
class DigestLimits:
    """Bounds a server sets (None: unbounded)."""

    max_docs: int | None = None  # documents per digest
    max_chars: int | None = None  # characters per document (over: that document's error)
    max_total: int | None = None  # characters of all documents together


@dataclass
class DigestDocument:
    input: DigestInput
    document: Document | None = None
    language: str | None = None
    story: int | None = None
    only_in: list[int] = field(default_factory=list)  # segment indices no other document has
    flags: list[str] = field(default_factory=list)

    @property
    def title(self) -> str | None:
        if self.input.title:
            return self.input.title
        return document_title(self.document) if self.document is not None else None

    def to_dict(self) -> dict:
        err = self.input.error
        return {
            "id": self.input.id,
            "title": self.title,
            "outlet": self.input.outlet,
            "date": self.input.date,
            "language": self.language,
            "story": self.story,
            "flags": list(self.flags),
            "only_in": list(self.only_in),
            "error": {"code": getattr(err, "code", "error"), "message": str(err)} if err else None,
            "document": self.document.to_dict() if self.document is not None else None,
        }


@dataclass
class Digest:
    documents: list[DigestDocument]
    stories: list[list[int]]  # story -> document positions
    key_points: list[KeyPoint]
    meta: dict
    agencies: list[str | None] = field(default_factory=list)  # story -> the wire its dateline names

    def outlets(self, story: int) -> list[str]:
        """The story's outlets (each document's, or its id when it names none), each once."""
        inputs = (self.documents[d].input for d in self.stories[story])
        return list(dict.fromkeys(i.outlet or i.id for i in inputs))

    def document(self, doc_id: str) -> DigestDocument:
        return next(d for d in self.documents if d.input.id == doc_id)

    def english(self, doc_id: str, segment: int) -> str:
        return self.document(doc_id).document.segments[segment].english or ""

    def _said(self, doc_id: str, segment: int) -> dict:
        d = self.document(doc_id)
        return {"document": doc_id, "segment": segment, "outlet": d.input.outlet or doc_id,
                "text": self.english(doc_id, segment)}  # fmt: skip

    @property
    def disagreements(self) -> list[dict]:
        """Where the coverage disagrees with itself: a key point's sources that report it
        otherwise (`kind` "sources": the sentence shown, then each that differs), and two key
        points that say opposite things of one thing (`kind` "key_points"); `differs` says
        what ("negation", "numbers: 60 / 62")."""
        out = []
        for k, point in enumerate(self.key_points):
            if point.disagree:
                differs = list(dict.fromkeys(w for _, _, what in point.disagree for w in what))
                sentences = [self._said(*point.sources[0])]
                sentences += [self._said(d, s) for d, s, _ in point.disagree]
                out.append({"kind": "sources", "key_points": [k], "differs": differs,
                            "sentences": sentences})  # fmt: skip
        for i, a in enumerate(self.key_points):
            for j in range(i + 1, len(self.key_points)):
                b = self.key_points[j]
                if contradicts(a.text, b.text):
                    out.append({"kind": "key_points", "key_points": [i, j],
                                "differs": ["negation"],
                                "sentences": [self._said(*a.sources[0]),
                                              self._said(*b.sources[0])]})  # fmt: skip
        return out

    def to_dict(self) -> dict:
        return {
            "kind": "khulasa.digest",
            "version": 1,
            "key_points": [k.to_dict() for k in self.key_points],
            "disagreements": self.disagreements,
            "stories": [
                {
                    "id": k,
                    "documents": [self.documents[d].input.id for d in docs],
                    "outlets": self.outlets(k),
                    "title": self.documents[docs[0]].title,
                    "agency": self.agencies[k],
                }
                for k, docs in enumerate(self.stories)
            ],
            "documents": [d.to_dict() for d in self.documents],
            "meta": self.meta,
        }

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def to_markdown(self) -> str:
        from .report import to_markdown

        return to_markdown(self)


def language_of(text: str) -> str | None:
    """ar, en, or None for text in neither (a Latin-script text needs English function
    words to count as English)."""
    if is_arabic(text):
        return "ar"
    words = [w.lower() for w in text.split() if w.isalpha()]
    latin = [w for w in words if w.isascii()]
    if not words or len(latin) < 0.8 * len(words):
        return None
    return "en" if sum(w in _ENGLISH for w in latin) >= 0.08 * len(latin) else None


def check_inputs(inputs: list[DigestInput], limits: DigestLimits) -> list[DigestDocument]:
    """Every input as a DigestDocument; the ones that cannot be read carry their error. Raises
    InputError for no documents at all, too many, or too many characters in all."""
    if not inputs:
        raise InputError(
            "No documents: give at least one article (two or more for a digest).", "no_documents"
        )
    if limits.max_docs is not None and len(inputs) > limits.max_docs:
        raise InputError(
            f"{len(inputs)} documents; a digest here takes at most {limits.max_docs}. "
            "Leave some out, or split the coverage.",
            "too_many_documents",
        )
    total = sum(len(i.text or "") for i in inputs)
    if limits.max_total is not None and total > limits.max_total:
        raise InputError(
            f"The documents hold {total:,} characters together; the limit here is "
            f"{limits.max_total:,}. Leave some out, or split the coverage.",
            "too_long",
        )
    seen: set[str] = set()
    out = []
    for item in inputs:
        if item.error is None:
            item.error = _problem(item, seen, limits)
        seen.add(item.id)
        language = language_of(item.text) if item.error is None else None
        if item.error is None and language is None:
            item.error = InputError(
                f"Document {item.id} is neither Arabic nor English; a digest reads Arabic "
                "articles (and English ones beside them).",
                "unsupported_language",
            )
        out.append(DigestDocument(item, language=language))
    return out


def _problem(item: DigestInput, seen: set[str], limits: DigestLimits) -> InputError | None:
    if item.id in seen:
        return InputError(
            f"Document id {item.id!r} is used twice; this one was left out. Give each "
            "document its own id.",
            "duplicate_id",
        )
    if not isinstance(item.text, str):
        return InputError(f"Document {item.id} has no text.", "empty_input")
    try:  # the one way in's checks; English is read beside Arabic, so no language check
        check_text(
            item.text,
            limits.max_chars,
            force=True,
            where=f"Document {item.id}",
            fix_long="split it, or leave it out.",
            fix_empty="give it the article's text.",
        )
    except InputError as exc:
        return exc
    return None


def make_digest(
    pipeline: Pipeline,
    inputs: list[DigestInput],
    points: int = DIGEST_POINTS,
    limits: DigestLimits | None = None,
    progress: Progress | None = None,
    glossary=None,
) -> Digest:
    """The digest of `inputs`: translate, link, rank. Timings split model work from the
    rest (`meta.timings_ms`). `glossary`: pinned spellings (default: the pipeline's)."""
    started = time.perf_counter()
    docs = check_inputs(inputs, limits or DigestLimits())
    arabic = [d for d in docs if d.input.error is None and d.language == "ar"]

    def translated(done: int, total: int) -> None:
        if progress is not None:
            progress("translate", done, total)

    results = pipeline.process_many(
        [d.input.text for d in arabic], False, progress=translated, glossary=glossary
    )
    for d, result in zip(arabic, results, strict=True):
        if isinstance(result, KhulasaError):
            d.input.error = result
        else:
            d.document = result
    for d in docs:
        if d.input.error is None and d.language == "en":
            d.document = pipeline.english_document(d.input.text)
    translate_ms = _ms(started)
    t0 = time.perf_counter()
    # One name rendered two ways across the sources (before key points read the flags).
    translated = [d for d in docs if d.document is not None and d.language == "ar"]
    names = [
        {**name, "variants": {form: [[translated[d].input.id, k] for d, k in places]
                              for form, places in name["variants"].items()}}
        for name in flag_names_across([d.document for d in translated])
    ]  # fmt: skip
    if progress is not None:
        progress("Grouping copies and shared reports", 0, 1)
    ready = [k for k, d in enumerate(docs) if d.document is not None]
    units = [
        Unit(k, s.index, s.source, s.english or "", docs[k].language)
        for k in ready
        for s in docs[k].document.segments
    ]
    coverage = link_coverage(units, len(docs))
    stories = _attach(docs, ready, units, coverage)
    link_ms = _ms(t0)
    t0 = time.perf_counter()
    if progress is not None:
        progress("Choosing key points", 0, 1)
    key_points, model_ms = pick_key_points(pipeline, docs, units, coverage, points)
    rank_ms = _ms(t0) - model_ms
    meta = _meta(pipeline, docs, stories, units, coverage, points)
    meta["names"] = names
    meta["timings_ms"] = {
        "translate": translate_ms,
        "link": link_ms,
        "rank": rank_ms,
        "summarize": model_ms,
        "total": _ms(started),
    }
    agencies = [wire_agency(docs[d].input.text or "" for d in story) for story in stories]
    return Digest(docs, stories, key_points, meta, agencies)


def _attach(docs, ready, units: list[Unit], coverage: Coverage) -> list[list[int]]:
    """Stories, "only in" sentences and off-topic flags onto the documents; the stories
    (document positions), in the order of their first document."""
    story_ids: dict[int, int] = {}
    stories: list[list[int]] = []
    for k in ready:
        raw = coverage.story_of[k]
        if raw not in story_ids:
            story_ids[raw] = len(stories)
            stories.append([])
        docs[k].story = story_ids[raw]
        stories[story_ids[raw]].append(k)
    copy_docs: dict[int, set[int]] = {}
    for u, c in zip(units, coverage.copy_of, strict=True):
        copy_docs.setdefault(c, set()).add(u.doc)
    group_docs = [{units[j].doc for j in members} for members in coverage.groups]
    words = [report_words(u.english) for u in units]
    in_story: dict[int, list[int]] = {}
    for i, u in enumerate(units):
        in_story.setdefault(docs[u.doc].story, []).append(i)
    for i, u in enumerate(units):
        if group_docs[coverage.group_of[i]] | copy_docs[coverage.copy_of[i]] != {u.doc}:
            continue
        if len(words[i]) < MIN_CONTENT:  # a dateline or a byline reports nothing
            continue
        others = (words[j] for j in in_story[docs[u.doc].story] if j != i)
        if restates(words[i], others, RESTATED):  # a new headline over the story's own lead
            continue
        docs[u.doc].only_in.append(u.segment)
    for k in _off_topic(docs, units, coverage, len(stories)):
        docs[k].flags.append(OFF_TOPIC)
    return stories


def _off_topic(docs, units: list[Unit], coverage: Coverage, n_stories: int) -> list[int]:
    """Documents outside the event: stories are linked by the report groups they share; the
    largest linked set (by documents) is the event, and the documents outside it are off
    topic (only when the event holds two or more documents)."""
    from .coverage import UnionFind

    uf = UnionFind(n_stories)
    for members in coverage.groups:
        found = [docs[units[i].doc].story for i in members]
        for s in found[1:]:
            uf.union(found[0], s)
    size: Counter = Counter()
    for d in docs:
        if d.story is not None:
            size[uf.find(d.story)] += 1
    if not size:
        return []
    event, n = size.most_common(1)[0]
    if n < 2:
        return []
    return [k for k, d in enumerate(docs) if d.story is not None and uf.find(d.story) != event]


def _meta(pipeline, docs, stories, units, coverage, points) -> dict:
    summarizer = pipeline.summarizer
    mode = summarizer.settings.get("mode") if summarizer is not None else None
    languages = Counter(d.language for d in docs if d.document is not None)
    return {
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "translator": dict(pipeline.translator.settings),
        "key_points": {
            "mode": "abstractive" if mode == "abstractive" else "extractive",
            "model": summarizer.settings.get("model") if mode == "abstractive" else "extractive",
            "asked": points,
        },
        "counts": {
            "documents": len(docs),
            "read": sum(d.document is not None for d in docs),
            "failed": sum(d.input.error is not None for d in docs),
            "arabic": languages.get("ar", 0),
            "english": languages.get("en", 0),
            "stories": len(stories),
            "sentences": len(units),
            "report_groups": len(coverage.groups),
            "off_topic": sum(OFF_TOPIC in d.flags for d in docs),
        },
        "trust_flags": sorted(
            {
                f
                for d in docs
                if d.document
                for s in d.document.segments
                for f in s.flags
                if f in EXPLANATIONS
            }
        ),  # fmt: skip
        "warnings": list(pipeline.warnings),
        "version": version(),
        "versions": dict(versions()),
    }


def _ms(since: float) -> int:
    return round((time.perf_counter() - since) * 1000)


__all__ = [
    "DIGEST_POINTS",
    "OFF_TOPIC",
    "Digest",
    "DigestDocument",
    "DigestInput",
    "DigestLimits",
    "KeyPoint",
    "language_of",
    "make_digest",
]
