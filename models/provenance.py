"""Which source sentences an English summary sentence rests on, by lexical overlap with the
translated segments. It makes every summary sentence checkable against the source."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were
be been being has have had do does did it its this that these those he she they them his her
their we our you your i not no will would can could should may might also than then there
which who whom whose what when where while after before about into over under said says
""".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")

MIN_COVERAGE = 0.3  # below this share of its content words, a sentence counts as unsupported
MAX_SOURCES = 3


def content_words(text: str) -> list[str]:
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in STOPWORDS]


def _bigrams(words: list[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:], strict=False))


def supporting_sources(sentence: str, segments: list[tuple[int, str]]) -> list[int]:
    """Indices of the segments (index, english) that best cover `sentence`'s content words,
    best first then sorted; [] when together they cover less than MIN_COVERAGE of them."""
    words = content_words(sentence)
    if not words:
        return []
    wanted = set(words)
    grams = _bigrams(words)
    seg_words = {i: content_words(t) for i, t in segments}
    chosen: list[int] = []
    uncovered = set(wanted)
    while len(chosen) < MAX_SOURCES and uncovered:
        candidates = [i for i, _ in segments if i not in chosen]
        if not candidates:
            break
        # Shared bigrams break ties towards the sentence a phrase was really taken from.
        best = max(
            candidates,
            key=lambda i, left=frozenset(uncovered): (
                len(left & set(seg_words[i])) + 0.5 * len(grams & _bigrams(seg_words[i]))
            ),
        )
        new = uncovered & set(seg_words[best])
        # A further source must add real support, not one stray word.
        if not new or (chosen and len(new) < max(2, 0.2 * len(wanted))):
            break
        chosen.append(best)
        uncovered -= new
    covered = 1 - len(uncovered) / len(wanted)
    return sorted(chosen) if covered >= MIN_COVERAGE else []
