"""Other wordings of one sentence: the model's n-best list, decoded on demand for a reader
who doubts the English shown, each with its score and its checks; and a wording chosen in
place of the shown one, with the key points and counts that rest on it brought up to date.

A chosen wording is marked OTHER_WORDING (in the JSON and the exports: the English is still
the model's, but not its first choice). Choosing the model's first wording back restores the
sentence as it was.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .checks import RETRIED, WARNINGS, check_pair
from .document import FROM_MEMORY, OTHER_WORDING, VERIFIED, Document, Segment
from .interface import joined

OFFERED = 3  # the most other wordings a reader is offered for one sentence
# What an OTHER_WORDING mark means, wherever it is shown or exported.
CHOSEN_NOTE = (
    "Not the model's first choice: another of its wordings, chosen by the reader in place of "
    "the one it gave first."
)


@dataclass(frozen=True)
class Wording:
    english: str
    score: float | None  # mean log-probability per word; 0 is certain
    flags: tuple[str, ...] = ()  # its warnings (checks.WARNINGS), as a sentence's would be


def shown_wording(seg: Segment) -> Wording:
    """The English a sentence shows now, as a wording (its warnings only)."""
    return Wording(seg.english or "", seg.score, tuple(f for f in seg.flags if f in WARNINGS))


def other_wordings(pipeline, seg: Segment, offered: int = OFFERED) -> list[Wording]:
    """Up to `offered` wordings of `seg` other than the one it shows, best first: the model's
    n-best (offered + 1 hypotheses, so that `offered` remain when the first is the one shown),
    through the pipeline's translator, and so through its sentence memory when it has one.
    A sentence translated in pieces gets the k-th hypothesis of every piece, joined."""
    pieces = pipeline.translator.pieces(seg.source)
    results = [None] * len(pieces)
    for batch in pipeline.translator.translate_iter(pieces, offered + 1):
        for result in batch:
            results[result.index] = result
    found: list[Wording] = []
    seen = {(seg.english or "").strip()}
    for k in range(offered + 1):
        english, score = joined(results, k)
        if not english or english in seen:
            continue
        seen.add(english)
        flags = (
            check_pair(seg.source, english, score, pipeline.threshold) if pipeline.checks else []
        )
        found.append(Wording(english, score, tuple(flags)))
    return found[:offered]


def use_wording(pipeline, doc: Document, index: int, wording: Wording, first: Segment) -> None:
    """Show `wording` for sentence `index` of `doc`. `first`: the sentence as the model first
    gave it (choosing its English back restores it exactly). A key point that is the sentence
    itself (extractive) takes the new English; every key point's warnings and the counts are
    made again."""
    seg = doc.segments[index]
    before = seg.english
    if wording.english == first.english:
        seg.english, seg.score, seg.flags = first.english, first.score, list(first.flags)
    else:
        keep = [f for f in seg.flags if f not in WARNINGS and f not in _REPLACED]
        seg.english, seg.score = wording.english, wording.score
        seg.flags = keep + list(wording.flags) + [OTHER_WORDING]
    for point in doc.summary:
        if point.sources == [index] and point.text == before:
            point.text = seg.english
    pipeline.check_summary(doc)


# What no longer holds once another wording is shown: it is not the memory's answer, not a
# reader's correction, not the second try.
_REPLACED = frozenset({FROM_MEMORY, VERIFIED, OTHER_WORDING, RETRIED})


def first_wording(seg: Segment) -> Segment:
    """A copy of a sentence as the model gave it, kept before any other wording replaces it."""
    return copy.deepcopy(seg)
