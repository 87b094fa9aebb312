"""A name written two ways in one article ("Kerry" in nine sentences, "Kerri" in one): the
same Arabic name rendered differently is flagged `name_mismatch` on the sentences that use the
rarer form, with both renderings and the Arabic word they stand for
(`meta.names`: [{"arabic", "used", "variants": {form: [segment indices]}}]).

A name the Arabic of a sentence has and its English lacks is flagged too, where the article's
own English shows how the name is rendered: a capitalised form whose Arabic word (present in
every sentence that uses the form) sounds like it (`sounds_alike`: the consonants of both,
compared) is that word's rendering; a sentence whose Arabic has the word and whose English
has neither the form nor a word starting like it ("Iranian" for "Iran") is flagged, with
`missing` in its entry: {"arabic", "used", "variants": {form: [...]}, "missing": [...]}.
A name the article renders nowhere cannot be checked this way (no lexicon is shipped).

Two English forms are one name's renderings when they look alike (same first letter, a
difflib ratio of at least SIMILAR, neither a prefix of the other: "Iran" and "Iranian" are
two words) and the Arabic of every sentence that uses either form has a word in common that
is not a function word nor in most of the article's sentences: the Arabic name itself.
"""

from __future__ import annotations

import difflib
import functools
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


# The consonants an Arabic letter is heard as in an English rendering ("" for the letters
# that are vowels, or silent, there). Each side is reduced to these before comparison.
_ARABIC_SOUNDS = str.maketrans(
    {
        **dict.fromkeys("اأإآىءئؤعهويحة", ""),
        **dict(zip("بتثجخدذرزسشصضطظغفقكلمنپڤگ", "bttjkddrzsssdtdgfkklmnpfg", strict=True)),
    }
)
_ENGLISH_SOUNDS = (
    ("sh", "s"), ("kh", "k"), ("th", "t"), ("gh", "g"), ("dh", "d"), ("ph", "f"), ("ck", "k"),
    ("x", "ks"), ("q", "k"), ("c", "k"), ("v", "f"),
)  # fmt: skip
SOUNDS_ALIKE = 0.75  # difflib ratio of the two consonant skeletons


@functools.lru_cache(maxsize=65536)
def _skeleton(word: str, arabic: bool) -> str:
    if arabic:
        bare = word.translate(_ARABIC_SOUNDS)
    else:
        bare = word.lower()
        for spelled, sound in _ENGLISH_SOUNDS:
            bare = bare.replace(spelled, sound)
        bare = re.sub(r"[^a-z]|[aeiouyhw]", "", bare)
    return re.sub(r"(.)\1+", r"\1", bare.replace("g", "j").replace("p", "b"))


def sounds_alike(arabic: str, english: str) -> float:
    """How alike the consonants of an Arabic word and an English form are (0 to 1):
    كيري and "Kerry" 1.0, بروكسل and "Brussels" 0.8."""
    a, e = _skeleton(arabic, True), _skeleton(english, False)
    if len(e) < 2 or not a or 2 * min(len(a), len(e)) / (len(a) + len(e)) < SOUNDS_ALIKE:
        return 0.0  # the ratio's bound by length alone: no SequenceMatcher needed
    return difflib.SequenceMatcher(None, a, e).ratio()


def _arabic_forms(source: str) -> set[str]:
    """Every Arabic word of `source`, folded, whole and without each clitic it may carry."""
    out = set()
    for word in re.findall(r"[\u0621-\u064a]+", fold_spelling(source)):
        forms = {word}
        for _ in range(2):
            forms |= {
                f[len(p) :]
                for f in forms
                for p in _CLITICS
                if f.startswith(p) and len(f) - len(p) >= 3
            }
        out |= forms
    return out


def _arabic_words(source: str) -> set[str]:
    """The Arabic words of `source` as the variants check compares them: each form (whole and
    without its clitics: بلجيكا is both بلجيك and لجيكا, as وبلجيكا is) cut to STEM letters; a
    word of ال is compared without it (cut to STEM, الأمين and الأميركي would meet)."""
    return {f[:STEM] for f in _arabic_forms(source) if not (f.startswith("ال") and len(f) > 4)}


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
        shared = set.intersection(*(arabic[k] for k in where[a] + where[b])) - _FUNCTION
        # The Arabic name: a shared word that sounds like the forms (however many sentences
        # hold it: an article about Kerry names him in most), else the rarest shared word
        # that is not in most sentences.
        alike = {w: max(sounds_alike(w, a), sounds_alike(w, b)) for w in shared}
        if any(v >= SOUNDS_ALIKE for v in alike.values()):
            word = min(shared, key=lambda w: (-alike[w], -len(w), w))
        elif shared := shared - common:
            word = min(shared, key=lambda w: (frequency[w], -len(w), w))
        else:
            continue
        used = max((a, b), key=lambda f: (len(where[f]), -min(where[f])))
        found.append({"arabic": word, "used": used, "variants": {a: where[a], b: where[b]}})
    return found


def renderings(pairs: list[tuple[str, str]], arabic: list[set[str]] | None = None) -> dict:
    """The article's own renderings of names: {English form: its Arabic word}, for each
    capitalised form whose sentences all hold one Arabic word that sounds like it: the
    closest; of equals, a word as written somewhere (سوريا, not شار cut from بشار), then the
    shortest."""
    arabic = arabic or [_arabic_forms(a) for a, _ in pairs]
    written = Counter(
        w for a, _ in pairs for w in set(re.findall(r"[\u0621-\u064a]+", fold_spelling(a)))
    )
    found = {}
    where = name_forms([english for _, english in pairs])
    for form in sorted(where, key=lambda f: (-len(where[f]), f))[:MOST_FORMS]:
        indices, best = where[form], None
        for word in set.intersection(*(arabic[k] for k in indices)):
            alike = sounds_alike(word, form)
            key = (-alike, not written[word], len(word), word)
            if alike >= SOUNDS_ALIKE and (best is None or key < best):
                best = key
        if best:
            found[form] = best[-1]
    return found


def _holds(forms: set[str], word: str) -> bool:
    """Whether a sentence's Arabic `forms` hold `word`, or it with an ending (عراقية for
    عراقي: gender and number) when `word` has 4 letters or more."""
    if word in forms:
        return True
    return len(word) >= 4 and any(f.startswith(word) and len(f) - len(word) <= 2 for f in forms)


def missing_names(pairs: list[tuple[str, str]]) -> list[dict]:
    """The names the English of a sentence lacks where its Arabic has them: for each, the
    Arabic word, the form the article uses for it and where, and the sentences missing it."""
    arabic = [_arabic_forms(a) for a, _ in pairs]
    where = name_forms([english for _, english in pairs])
    found = []
    for form, word in renderings(pairs, arabic).items():
        has = re.compile(rf"\b{re.escape(form[:4])}")
        missing = [
            k
            for k, (_, english) in enumerate(pairs)
            if _holds(arabic[k], word) and not has.search(english)
        ]
        if missing:
            found.append(
                {"arabic": word, "used": form, "variants": {form: where[form]}, "missing": missing}
            )
    return found


def find_names(pairs: list[tuple[str, str]]) -> list[dict]:
    """Every name `pairs` (Arabic, English; read as one text) writes two ways or leaves out,
    with indices into `pairs`; `flagged` says which pairs carry `name_mismatch`."""
    return name_variants(pairs) + missing_names(pairs)


def flagged(found: list[dict]) -> set[int]:
    """The indices `found` (find_names) flags: the rarer renderings' and the missing ones."""
    rarer = {k for n in found for f, ks in n["variants"].items() if f != n["used"] for k in ks}
    return rarer | {k for n in found for k in n.get("missing", ())}


def flag_names(doc) -> None:
    """Flag `name_mismatch` on the sentences of `doc` that use a name's rarer rendering or
    leave a name out, and keep what was found in `doc.meta["names"]` with segment indices
    (the page and the Markdown say it)."""
    translated = [s for s in doc.segments if s.english is not None]
    found = find_names([(s.source, s.english) for s in translated])
    for k in flagged(found):
        if NAME_MISMATCH not in translated[k].flags:
            translated[k].flags.append(NAME_MISMATCH)
    for name in found:
        name["variants"] = {
            f: [translated[k].index for k in ks] for f, ks in name["variants"].items()
        }
        if "missing" in name:
            name["missing"] = [translated[k].index for k in name["missing"]]
    if found:
        doc.meta["names"] = found
    else:
        doc.meta.pop("names", None)


def name_evidence(index: int, names: list[dict] | None) -> str | None:
    """What sentence `index`'s name flag rests on: "«كيري» is “Kerri” here and “Kerry” in 3
    other sentences.", or that its English lacks the name the other sentences render."""
    for name in names or ():
        for form, indices in name["variants"].items():
            if index in indices and form != name["used"]:
                others = len(name["variants"][name["used"]])
                plural = "sentence" if others == 1 else "sentences"
                if "elsewhere" in name:  # a coverage digest: the other sources' rendering
                    n = name["elsewhere"]
                    return (
                        f"«{name['arabic']}» is “{form}” here and “{name['used']}” in {n} "
                        f"{'sentence' if n == 1 else 'sentences'} of the other sources."
                    )
                return (
                    f"«{name['arabic']}» is “{form}” here and “{name['used']}” in {others} "
                    f"other {plural}."
                )
    for name in names or ():
        if index in name.get("missing", ()):
            used = len(name["variants"][name["used"]])
            plural = "sentence" if used == 1 else "sentences"
            return (
                f"The Arabic names «{name['arabic']}», “{name['used']}” in {used} other "
                f"{plural}; this sentence's English does not."
            )
    return None


def flag_names_across(documents: list) -> list[dict]:
    """One coverage's translated documents read as one text: a name its documents render
    two ways ("Kerry" in one source, "Kerri" in another) is flagged `name_mismatch` on the
    sentences with the rarer form, and each such document's `meta.names` says what the other
    sources write (`elsewhere`: how many of their sentences). Returns the names found, each
    form with its [document position, segment index] pairs."""
    where = [(d, k) for d, doc in enumerate(documents) for k in range(len(doc.segments))]
    pairs = [(documents[d].segments[k].source, documents[d].segments[k].english or "")
             for d, k in where]  # fmt: skip
    found = []
    for name in name_variants(pairs):
        at = {form: [where[i] for i in indices] for form, indices in name["variants"].items()}
        if len({d for places in at.values() for d, _ in places}) < 2:
            continue  # within one document: its own check says it
        found.append({"arabic": name["arabic"], "used": name["used"], "variants": at})
        for form, places in at.items():
            for d in {d for d, _ in places} if form != name["used"] else ():
                doc = documents[d]
                mine = [doc.segments[k] for dd, k in places if dd == d]
                for seg in mine:
                    if NAME_MISMATCH not in seg.flags:
                        seg.flags.append(NAME_MISMATCH)
                doc.meta.setdefault("names", []).append(
                    {"arabic": name["arabic"], "used": name["used"],
                     "variants": {form: [s.index for s in mine], name["used"]: []},
                     "elsewhere": sum(dd != d for dd, _ in at[name["used"]])}
                )  # fmt: skip
    return found
