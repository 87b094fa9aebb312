"""A name written two ways in one article ("Kerry" in nine sentences, "Kerri" in one): the
same Arabic name rendered differently is flagged `name_mismatch` on the sentences that use the
rarer form, with both renderings and the Arabic word they stand for
(`meta.names`: [{"arabic", "used", "variants": {form: [segment indices]}}]).

Two English forms are one name's renderings when they look alike (same first letter, a
difflib ratio of at least SIMILAR, neither a prefix of the other: "Iran" and "Iranian" are
two words) and the Arabic of every sentence that uses either form has a word in common that
is not a function word nor in most of the article's sentences: the Arabic name itself.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from itertools import combinations

from .checks import NAME_MISMATCH
from .text import fold_spelling

SIMILAR = 0.75
MOST_FORMS = 1500  # capitalised forms compared in one article, the most used first
STEM = 5  # Arabic letters compared: the gender and number endings of a name's adjective vary
_NAME = re.compile(r"\b[A-Z][a-z]{2,}\b")
# Words that start sentences without being names (any other capitalised word may be one).
STARTERS = frozenset(
    "The A An In On At As By For From To Of With Without He She It They We I You His Her Its "
    "Their Our This That These Those There Here But And Or So Yet However Since After Before "
    "When While Although Though If Because Meanwhile Also Some Many Most All Both Each Every "
    "No Not Only One Two Three Officials Witnesses Representatives Thousands Military Opening "
    "Sources Despite During Under Over About Against Among Between Last Next Earlier Later".split()
)
# Capitalised words that are titles and institutions, not names.
TITLES = frozenset(
    "Secretary Minister Ministers President Prime General Council Department State States "
    "Union Nations United Assembly Army Ministry Foreign Defence Defense Interior Government "
    "Parliament Congress Senate Court Commission Committee Agency Organisation Organization "
    "Islamic Republic Kingdom Emirates Coalition Mr Mrs Ms Dr".split()
)
_CLITICS = ("وال", "بال", "لل", "ال", "و", "ب", "ل", "ف")
_FUNCTION = {
    fold_spelling(w)[:STEM]
    for w in (
        "في من على إلى عن أن إن أنه إنه قال التي الذي الذين مع هذا هذه كان كانت بين أو ما "
        "لا لم لن قد بعد قبل عند حتى كما منذ أي كل ضد خلال حول وزير وزيرة خارجية رئيس"
    ).split()
}


def _arabic_words(source: str) -> set[str]:
    """The Arabic words of `source`, folded, cut to STEM letters, each also without the
    clitics it may carry (و، ب، ل، ف، ال; a word that merely starts with one keeps its own
    form too: بلجيكا is both بلجيك and لجيكا, as وبلجيكا is)."""
    out = set()
    for word in re.findall(r"[\u0621-\u064a]+", fold_spelling(source)):
        forms = {word}
        for _ in range(2):  # و then ب: وبال...
            forms |= {
                f[len(p) :]
                for f in forms
                for p in _CLITICS
                if f.startswith(p) and len(f) - len(p) >= 3
            }
        # A word of ال is compared without it (cut to STEM, الأمين and الأميركي would meet).
        out |= {f[:STEM] for f in forms if not (f.startswith("ال") and len(f) > 4)}
    return out


def name_forms(sentences: list[str]) -> dict[str, list[int]]:
    """Each capitalised form that may be a name (not a title, not a sentence's ordinary first
    word), with the indices of the sentences that use it."""
    where: dict[str, list[int]] = {}
    for k, english in enumerate(sentences):
        for m in _NAME.finditer(english or ""):
            word = m.group(0)
            if word in TITLES or (m.start() == 0 and word in STARTERS):
                continue
            if k not in where.setdefault(word, []):
                where[word].append(k)
    return where


def name_variants(pairs: list[tuple[str, str]]) -> list[dict]:
    """The names `pairs` (Arabic, English) render in two ways: for each, the Arabic word, the
    form most sentences use, and each form with the indices of the sentences using it."""
    arabic = [_arabic_words(a) for a, _ in pairs]
    frequency = Counter(w for words in arabic for w in words)
    common = {w for w, c in frequency.items() if c > max(2, len(pairs) // 2)}
    where = name_forms([english for _, english in pairs])
    found = []
    by_letter: dict[str, list[str]] = {}  # only forms with one first letter are compared
    # The most used forms only, past MOST_FORMS: a news article has a few hundred; a text of
    # thousands of capitalised words must not make the comparison of every pair its cost.
    for form in sorted(sorted(where, key=lambda f: (-len(where[f]), f))[:MOST_FORMS]):
        by_letter.setdefault(form[0].lower(), []).append(form)
    for a, b in (pair for forms in by_letter.values() for pair in combinations(forms, 2)):
        la, lb = a.lower(), b.lower()
        if la.startswith(lb) or lb.startswith(la):
            continue
        if 2 * min(len(la), len(lb)) / (len(la) + len(lb)) < SIMILAR:
            continue  # the ratio's bound by length alone: no SequenceMatcher needed
        if difflib.SequenceMatcher(None, la, lb).ratio() < SIMILAR:
            continue
        if set(where[a]) & set(where[b]):
            continue  # both in one sentence: two names ("Iran ... in Iraq")
        shared = set.intersection(*(arabic[k] for k in where[a] + where[b]))
        shared -= _FUNCTION | common
        if not shared:
            continue
        word = min(shared, key=lambda w: (frequency[w], -len(w), w))
        used = max((a, b), key=lambda f: (len(where[f]), -min(where[f])))
        found.append({"arabic": word, "used": used, "variants": {a: where[a], b: where[b]}})
    return found


def flag_names(doc) -> None:
    """Flag `name_mismatch` on the sentences of `doc` that use a name's rarer rendering, and
    keep what was found in `doc.meta["names"]` (the page and the Markdown say it)."""
    segments = doc.segments
    found = name_variants([(s.source, s.english or "") for s in segments])
    for name in found:
        for form, indices in name["variants"].items():
            if form == name["used"]:
                continue
            for k in indices:
                if NAME_MISMATCH not in segments[k].flags:
                    segments[k].flags.append(NAME_MISMATCH)
        name["variants"] = {
            form: [segments[k].index for k in indices] for form, indices in name["variants"].items()
        }
    if found:
        doc.meta["names"] = found
    else:
        doc.meta.pop("names", None)


def name_evidence(index: int, names: list[dict] | None) -> str | None:
    """What sentence `index`'s name flag rests on: "«كيري» is “Kerri” here and “Kerry” in 3
    other sentences."."""
    for name in names or ():
        for form, indices in name["variants"].items():
            if index in indices and form != name["used"]:
                others = len(name["variants"][name["used"]])
                plural = "sentence" if others == 1 else "sentences"
                return (
                    f"«{name['arabic']}» is “{form}” here and “{name['used']}” in {others} "
                    f"other {plural}."
                )
    return None
