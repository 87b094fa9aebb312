"""Whether two reports of one fact agree: the same polarity where they speak of the same thing
(one says "no plans to coordinate with Iran", the other "plans to coordinate with Iran"), and
the same numbers (by value, as the checks read them: "60 countries" / "62 countries"). Two
sentences grouped under one key point count as corroboration only if they agree; otherwise
the key point says the sources disagree and shows each side.

A negation is compared where it is: the two sentences must share SHARED content words, and
the words that follow the negation (NEGATED_WINDOW words) must be in the other sentence too
(SHARED_NEGATED of them) for its absence there to count, so a sentence that adds a negated
clause of its own ("..., noting that peace will not be achieved") does not disagree with one
that leaves the clause out.
"""

from __future__ import annotations

from ..checks import EN_NEGATION, numbers
from .coverage import report_words

NEGATED_WINDOW = 6  # words after a negation that say what is negated
SHARED = 2  # content words two sentences share when they speak of the same thing ...
SHARED_NEGATED = 2  # ... of which this many are among the words a negation applies to


def negated(english: str) -> list[frozenset[str]]:
    """The content words each negation of `english` applies to (the words after it)."""
    out = []
    for m in EN_NEGATION.finditer(english):
        after = english[m.end() :].split()[:NEGATED_WINDOW]
        out.append(report_words(" ".join(after)))
    return out


def _reversed(a: str, b: str, negated_shared: int) -> bool:
    """`a` negates something `b` says without negating it."""
    words_b = report_words(b)
    if len(report_words(a) & words_b) < SHARED:
        return False  # they do not speak of the same thing
    negated_b = negated(b)
    for window in negated(a):
        if len(window & words_b) < negated_shared:
            continue  # `b` does not speak of what `a` negates
        if not any(window & other for other in negated_b):
            return True
    return False


def differences(a: str, b: str) -> list[str]:
    """What two English sentences reporting one fact (grouped under one key point) disagree
    on: "negation" (one says no to what the other says) and "numbers: 60 / 62" (each states
    numbers, not the same ones)."""
    found = []
    if _reversed(a, b, SHARED_NEGATED) or _reversed(b, a, SHARED_NEGATED):
        found.append("negation")
    first, second = numbers(a, arabic=False), numbers(b, arabic=False)
    if first and second and first != second:
        shown = [", ".join(f"{v:g}" for v in sorted(n)) for n in (first - second, second - first)]
        found.append(f"numbers: {shown[0] or '-'} / {shown[1] or '-'}")
    return found


def contradicts(a: str, b: str) -> bool:
    """Whether two key points (two facts) say opposite things of one thing: one negates what
    the other says."""
    return _reversed(a, b, SHARED_NEGATED) or _reversed(b, a, SHARED_NEGATED)
