"""The coverage digest's key points: report groups ranked by corroboration (distinct stories)
and centrality in the coverage, each shown as its most central sentence (extractive) or as the
summariser's text over its sentences (abstractive), with every source sentence as provenance."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

from ..checks import check_summary
from ..pipeline import TRUST_FLAGS
from ..summarize import cosine
from ..text import split_english
from .agreement import differences
from .coverage import MIN_CONTENT, Unit, report_words

OFF_TOPIC = "off_topic"  # the document's story shares no report with the rest of the coverage
SOURCES_DISAGREE = "sources_disagree"  # a key point's sources report it otherwise
DIVERSITY = 0.6  # a key point this close (cosine) to one already picked is left out


@dataclass
class KeyPoint:
    text: str
    sources: list[tuple[str, int]]  # (document id, segment index); the one shown first
    corroboration: int  # distinct stories that report it (copies counted once)
    documents: int  # distinct documents, copies included
    flags: list[str] = field(default_factory=list)
    # Sources that report it otherwise (agreement.differences): (document id, segment, what).
    disagree: list[tuple[str, int, list[str]]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "sources": [{"document": d, "segment": s} for d, s in self.sources],
            "corroboration": self.corroboration,
            "documents": self.documents,
            "flags": list(self.flags),
            "disagree": [
                {"document": d, "segment": s, "differs": list(what)} for d, s, what in self.disagree
            ],
        }


def key_points(pipeline, docs, units, coverage, points: int) -> tuple[list[KeyPoint], int]:
    """The top `points` report groups (corroboration, then centrality), each as a key point:
    the group's most central sentence, or the summariser over its sentences. Returns them and
    the milliseconds spent in the summariser."""
    off = {k for k, d in enumerate(docs) if OFF_TOPIC in d.flags}
    words = [report_words(u.english) for u in units]
    groups = [
        g
        for g in coverage.groups
        if units[g[0]].doc not in off and max(len(words[i]) for i in g) >= MIN_CONTENT
    ]
    vectors = _group_vectors(groups, words)
    centroid: Counter = Counter()
    for v in vectors:
        centroid.update(_unit(v))

    def rank(k: int):
        g = groups[k]
        stories = len({docs[units[i].doc].story for i in g})
        lead = min(units[i].segment for i in g)
        return (-stories, -cosine(vectors[k], centroid) * (1 + 0.5 / (1 + lead)))

    picked: list[tuple[list[int], int]] = []  # (group, representative unit)
    for k in sorted(range(len(groups)), key=rank):
        rep = max(groups[k], key=lambda i: (cosine(_tf(words[i]), vectors[k]), -i))
        if all(cosine(_tf(words[rep]), _tf(words[r])) < DIVERSITY for _, r in picked):
            picked.append((groups[k], rep))
        if len(picked) == points:
            break
    texts, model_ms = _point_texts(pipeline, picked, units, docs)
    out = []
    for (g, rep), (text, flags) in zip(picked, texts, strict=True):
        ordered = [rep] + sorted((i for i in g if i != rep), key=lambda i: (units[i].doc, i))
        # Corroboration: the stories whose sentence agrees with the one shown (same polarity,
        # same numbers); the others are shown as disagreeing, not counted.
        against = {i: differences(units[rep].english, units[i].english) for i in ordered[1:]}
        agreeing = [i for i in ordered if not against.get(i)]
        point = KeyPoint(
            text,
            [(docs[units[i].doc].input.id, units[i].segment) for i in ordered],
            corroboration=len({docs[units[i].doc].story for i in agreeing}),
            documents=len({units[i].doc for i in g}),
            flags=flags + ([SOURCES_DISAGREE] if len(agreeing) < len(ordered) else []),
            disagree=[
                (docs[units[i].doc].input.id, units[i].segment, what)
                for i, what in against.items()
                if what
            ],
        )
        out.append(point)
    return out, model_ms


def _point_texts(pipeline, picked, units, docs) -> tuple[list[tuple[str, list[str]]], int]:
    """Each key point's text and flags: extractive, the representative sentence with its
    trust flags; abstractive, the summariser over the group's distinct sentences (chunked,
    never truncated), checked against them."""
    summarizer = pipeline.summarizer
    if summarizer is None or summarizer.settings.get("mode") != "abstractive":
        return [(units[r].english, _seg_flags(docs, units[r])) for _, r in picked], 0
    t0 = time.perf_counter()
    all_english = list(dict.fromkeys(u.english for u in units))
    sources = [
        list(dict.fromkeys([units[rep].english] + [units[i].english for i in g]))
        for g, rep in picked
    ]
    chunks = [summarizer.chunks(s) for s in sources]
    # Groups that fit the model's input at once share one generate call.
    single = [k for k, c in enumerate(chunks) if len(c) == 1]
    made = summarizer.generate([chunks[k][0] for k in single]) if single else []
    texts = dict(zip(single, made, strict=True))
    out = []
    for k, (_, rep) in enumerate(picked):
        raw = texts[k] if k in texts else summarizer.summary_text(sources[k])
        text = " ".join(split_english(raw)) or units[rep].english
        checked = check_summary(text, sources[k], all_english) if pipeline.checks else []
        out.append((text, checked))
    return out, _ms(t0)


def _seg_flags(docs, unit: Unit) -> list[str]:
    """A sentence's trust flags (those the page marks on it)."""
    segment = docs[unit.doc].document.segments[unit.segment]
    return [f for f in segment.flags if f in TRUST_FLAGS]


def _tf(words) -> Counter:
    return Counter(words)


def _group_vectors(groups: list[list[int]], words) -> list[Counter]:
    """tf-idf of each group's distinct sentences (copies once), idf over groups."""
    bags = [Counter(w for ws in {words[i] for i in g} for w in ws) for g in groups]
    df = Counter(w for bag in bags for w in bag)
    idf = {w: math.log((1 + len(bags)) / (1 + c)) + 1 for w, c in df.items()}
    return [Counter({w: c * idf[w] for w, c in bag.items()}) for bag in bags]


def _unit(v: Counter) -> Counter:
    norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
    return Counter({w: x / norm for w, x in v.items()})


def _ms(since: float) -> int:
    return round((time.perf_counter() - since) * 1000)
