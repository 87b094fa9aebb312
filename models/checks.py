"""Weight-free checks of each (Arabic, English) pair and of each summary sentence: the ways
neural MT is known to fail, each a flag with one line a reader can act on.

Numbers compare by value: Arabic-Indic (٠-٩) and Eastern Arabic-Indic (۰-۹) digits, Western
digits, Arabic decimal and thousands separators (٫ ٬), and number words on either side
(units, teens, tens, hundreds, thousand, million, billion) all become the same numbers.
"""

from __future__ import annotations

import math
import re
import unicodedata

from .text import ARABIC_LETTER, DIGITS, fold_spelling

# Segment flags
LOW_CONFIDENCE = "low_confidence"
NUMBER_MISMATCH = "number_mismatch"
UNTRANSLATED = "untranslated"
REPETITION = "repetition"
LENGTH_RATIO = "length_ratio"
QUOTE_MISMATCH = "quote_mismatch"
NEGATION_MISMATCH = "negation_mismatch"
NAME_MISMATCH = "name_mismatch"  # a document's check (models/names.py), not a pair's
RETRIED = "retried"
GLOSSARY_NOT_APPLIED = "glossary_not_applied"  # a pinned spelling that could not be used
# Summary sentence flags
UNSUPPORTED_NUMBER = "unsupported_number"
UNSUPPORTED_NAME = "unsupported_name"

EXPLANATIONS = {
    NEGATION_MISMATCH: "One side says no or not and the other does not: the meaning may be "
    "reversed. Read this sentence against the Arabic before using it.",
    LOW_CONFIDENCE: "The model was unsure of this translation: check its names, numbers and "
    "negations against the Arabic.",
    NUMBER_MISMATCH: "A number in the Arabic is missing or different in the English.",
    NAME_MISMATCH: "A name is written one way here and another way elsewhere, or the Arabic "
    "names someone or somewhere the English leaves out: check it against the Arabic.",
    UNTRANSLATED: "Arabic words were left untranslated in the English.",
    REPETITION: "The English repeats itself, a sign that the model looped.",
    LENGTH_RATIO: "The English is far shorter or longer than the Arabic: part may be missing.",
    QUOTE_MISMATCH: "The Arabic quotes someone, but the English has no quotation.",
    GLOSSARY_NOT_APPLIED: "The glossary pins a spelling for a term this sentence holds, but "
    "none of the model's wordings uses it and the words it wrote for the term could not be "
    "told: check the term against the Arabic.",
    RETRIED: "Translated a second time after a problem was found; the better try is shown.",
    UNSUPPORTED_NUMBER: "A number in this summary sentence is in none of its source sentences.",
    UNSUPPORTED_NAME: "A name in this summary sentence appears nowhere in the translation.",
}
# A sentence's warnings, in order of harm and in plain words (RETRIED is none: the better try
# shows). Every list of warnings follows this order: the check list, "Next to check", markers.
PLAIN = {
    NEGATION_MISMATCH: "the meaning may be reversed",
    NUMBER_MISMATCH: "a number differs",
    NAME_MISMATCH: "a name differs",
    QUOTE_MISMATCH: "a quotation was lost",
    LENGTH_RATIO: "part may be missing",
    UNTRANSLATED: "words left in Arabic",
    REPETITION: "the English repeats itself",
    LOW_CONFIDENCE: "the model was unsure",
    GLOSSARY_NOT_APPLIED: "glossary term not applied",
}
WARNINGS = tuple(PLAIN)


def harm(flags: list[str]) -> int:
    """How harmful the worst of `flags` is: its place in WARNINGS (0: the meaning may be
    reversed), len(WARNINGS) when none is a warning. Lists of sentences to check sort by it."""
    return min((WARNINGS.index(f) for f in flags if f in WARNINGS), default=len(WARNINGS))


def source_warnings(sources: list[int], flags_by_index: dict[int, list[str]]) -> list[str]:
    """The warnings of the sentences `sources` names, each once, in WARNINGS order."""
    found = {f for i in sources for f in flags_by_index.get(i, ())}
    return [f for f in WARNINGS if f in found]


# Flags worth a second translation (the others are not fixed by decoding differently).
RETRY_FLAGS = (NEGATION_MISMATCH, REPETITION, UNTRANSLATED, NUMBER_MISMATCH)

# English characters per Arabic character. Derived from the team's 56 sentence-aligned
# references (eval/data/*.sent.*; `khulasa eval trust` prints their range): 0.95 to 1.93 over
# sentences of 30+ Arabic characters; the band is that range, 5 % lower and 10 % higher.
LENGTH_BAND = (0.9, 2.1)
MIN_LENGTH_CHECKED = 30  # Arabic characters; shorter sentences vary too much to judge
# Mean log-probability per token below which a translation is flagged, per model. Provisional
# for the real presets (this project cannot run their weights; see README): to be replaced by
# each model's 5th percentile on a held-out set. Replica scores mean nothing.
LOW_CONFIDENCE_BELOW = {"opus-mt-tc-big": -1.0, "opus-mt": -1.2, "nllb-600m": -1.2}
DEFAULT_LOW_CONFIDENCE = -1.2


def confidence(score: float | None, threshold: float = DEFAULT_LOW_CONFIDENCE) -> str:
    """The model's score in a reader's words: "low" below the low-confidence threshold,
    "medium" down to half of it, "high" nearer 0 ("unknown" without a score)."""
    if score is None:
        return "unknown"
    return "low" if score < threshold else "medium" if score < threshold / 2 else "high"


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

_AR_UNITS = {
    "واحد": 1,
    "واحدة": 1,
    "اثنان": 2,
    "اثنين": 2,
    "اثنتان": 2,
    "اثنتين": 2,
    "ثلاث": 3,
    "ثلاثة": 3,
    "أربع": 4,
    "أربعة": 4,
    "خمس": 5,
    "خمسة": 5,
    "ست": 6,
    "ستة": 6,
    "سبع": 7,
    "سبعة": 7,
    "ثمان": 8,
    "ثماني": 8,
    "ثمانية": 8,
    "تسع": 9,
    "تسعة": 9,
    "عشر": 10,
    "عشرة": 10,
    "إحدى": 1,
    "أحد": 1,
    "اثنا": 2,
    "اثني": 2,
    "اثنتا": 2,
    "عشرون": 20,
    "عشرين": 20,
    "ثلاثون": 30,
    "ثلاثين": 30,
    "أربعون": 40,
    "أربعين": 40,
    "خمسون": 50,
    "خمسين": 50,
    "ستون": 60,
    "ستين": 60,
    "سبعون": 70,
    "سبعين": 70,
    "ثمانون": 80,
    "ثمانين": 80,
    "تسعون": 90,
    "تسعين": 90,
    "مئة": 100,
    "مائة": 100,
    "مئتان": 200,
    "مئتين": 200,
    "مائتان": 200,
    "مائتين": 200,
    "ألفان": 2000,
    "ألفين": 2000,
    "ألفي": 2000,
    "مئتي": 200,
    "مائتي": 200,
    "مليونان": 2_000_000,
    "مليونين": 2_000_000,
    "مليوني": 2_000_000,
    "ملياران": 2 * 10**9,
    "مليارين": 2 * 10**9,
    "ملياري": 2 * 10**9,
}
for _unit, _value in (
    ("ثلاث", 3),
    ("أربع", 4),
    ("خمس", 5),
    ("ست", 6),
    ("سبع", 7),
    ("ثمان", 8),
    ("تسع", 9),
):
    _AR_UNITS[_unit + "مئة"] = _AR_UNITS[_unit + "مائة"] = _value * 100
_AR_SCALES = {
    "ألف": 1000,
    "آلاف": 1000,
    "مليون": 10**6,
    "ملايين": 10**6,
    "مليار": 10**9,
    "مليارات": 10**9,
}
_AR_VAGUE = {"آلاف", "ملايين", "مليارات"}  # "thousands of": a number only after a count
# Not numbers although they look like them: weekdays ("the two" is Monday), "someone".
_AR_NOT_NUMBERS = {"الاثنين", "الأحد", "أحد"}

_EN_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_EN_UNITS.update(
    {
        w: 10 * i
        for i, w in enumerate(
            "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2
        )
    }
)
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}


# News writes ألف and الف, إحدى and احدى alike: the number words are kept folded.
_AR_UNITS = {fold_spelling(w): v for w, v in _AR_UNITS.items()}
_AR_SCALES = {fold_spelling(w): v for w, v in _AR_SCALES.items()}
_AR_VAGUE = {fold_spelling(w) for w in _AR_VAGUE}
_AR_NOT_NUMBERS = {fold_spelling(w) for w in _AR_NOT_NUMBERS}
_AR_TEENS = [
    (re.compile(r"(?<!\w)(?:[اأإ]حد|[اأإ]حدى)\s+عشرة?(?!\w)"), " 11 "),
    (re.compile(r"(?<!\w)(?:اثنا|اثني|اثنتا|اثنتي)\s+عشرة?(?!\w)"), " 12 "),
]


def _ar_word(word: str) -> tuple[str, int] | None:
    """("unit" | "scale", value) for an Arabic number word, with و/ب/ل/ال prefixes."""
    word = fold_spelling(word)
    if word in _AR_NOT_NUMBERS:
        return None
    for prefix in ("", "و", "ب", "ل", "ال", "وال", "بال", "لل"):
        if prefix and not word.startswith(prefix):
            continue
        stem = word[len(prefix) :]
        if stem in _AR_UNITS:
            return "unit", _AR_UNITS[stem]
        if stem in _AR_SCALES:
            return ("vague" if stem in _AR_VAGUE else "scale"), _AR_SCALES[stem]
    return None


def _en_word(word: str) -> tuple[str, int] | None:
    word = word.lower()
    if word in _EN_UNITS:
        return "unit", _EN_UNITS[word]
    if word in _EN_SCALES:
        return "scale", _EN_SCALES[word]
    if word in ("thousands", "millions", "billions", "hundreds", "dozens"):
        return "vague", 0
    return None


def _digits(token: str) -> float | None:
    token = token.translate(DIGITS)
    if not _NUMBER.fullmatch(token):
        return None
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", token):  # 1,000 / 2,500.5
        token = token.replace(",", "")
    else:
        token = token.replace(",", ".")  # 2,5 (a decimal comma)
    try:
        return float(token)
    except ValueError:
        return None


def numbers(text: str, arabic: bool) -> set[float]:
    """The numbers `text` states, by value: digits (with a following scale word, "3 million"),
    and number words ("خمسة وعشرون", "twenty-five", "a thousand")."""
    # Over 60 lines for a reason: one pass of a small state machine (the number being read),
    # whose rules for Arabic and English read best side by side.
    found: set[float] = set()
    if arabic:
        for pattern, digits_for in _AR_TEENS:
            text = pattern.sub(digits_for, text)
    tokens = re.findall(
        r"[\d٠-٩۰-۹][\d٠-٩۰-۹.,٫٬]*[\d٠-٩۰-۹]|[\d٠-٩۰-۹]|[^\W\d_]+|[,;:!?()\"“”«»،؛.]",
        unicodedata.normalize("NFC", text),
    )
    word_of = _ar_word if arabic else _en_word
    current = total = None  # the number being read: its last group, and the groups before
    digits = False  # whether `current` was written in digits (only a scale word may follow)
    last = 0  # the value of the last word read into the number

    def close() -> None:
        nonlocal current, total, digits, last
        if current is not None or total is not None:
            found.add(float((total or 0) + (current or 0)))
        current = total = None
        digits = False
        last = 0

    previous = ""
    for raw in tokens:
        value = _digits(raw.rstrip(".,٫٬"))
        kind = None if value is not None else word_of(raw)
        if arabic and previous == "في" and raw in ("المئة", "المائة"):
            kind = None  # في المئة: "percent"
        previous = raw
        if value is not None:
            close()
            current, digits = value, True
            continue
        if kind is None or (kind[0] == "vague" and current is None):
            if not arabic and raw.lower() == "and" and current is not None and not digits:
                continue  # "two hundred and five"
            close()
            continue
        form, amount = kind
        joined = arabic and raw.startswith("و")  # "وعشرون", "وألف": "and ..."
        if joined and (current is not None or total is not None) and not digits:
            # Arabic joins a number's parts largest first ("ألفان وخمسمائة"), except units
            # before tens ("خمسة وعشرون"); anything else after و starts a new number.
            tens_after_unit = 20 <= amount <= 90 and 1 <= last <= 9
            if not (amount < last or tens_after_unit):
                close()
        if form == "unit":
            teen = (
                arabic
                and amount == 10
                and not joined
                and current is not None
                and 3 <= current <= 9
                and not digits
            )
            if not teen and (digits or (current is not None and not joined and arabic)):
                close()
            current = (current or 0) + amount
            last = amount
            digits = False
            continue
        if amount == 100:
            current = (current or 1) * 100
        else:  # thousand, million, billion (a bare one: "a thousand", "ألف")
            if joined and digits:  # "F-4 وألف": a new number
                close()
            elif joined:  # "و" before a scale adds a new group
                total, current = (total or 0) + (current or 0), None
            total = (total or 0) + (current or 1) * amount
            current = None
        last = amount
        digits = False
    close()
    return {v for v in found if not math.isnan(v)}


def number_mismatch(source: str, english: str) -> bool:
    """Some number of the Arabic is not in the English (by value)."""
    wanted = numbers(source, arabic=True)
    return bool(wanted - numbers(english, arabic=False))


def untranslated(english: str) -> bool:
    return bool(ARABIC_LETTER.search(english))


def repetition(english: str) -> bool:
    """A loop: some run of 1-8 words three times in a row, or of 4+ words twice in a row."""
    return repeated_run(english) is not None


def repeated_run(english: str) -> str | None:
    """The first run of words that repeats as `repetition` means it, or None."""
    words = re.findall(r"\w+", english.lower())
    n_words = len(words)
    for size in range(1, min(8, n_words // 2) + 1):
        for start in range(n_words - 2 * size + 1):
            chunk = words[start : start + size]
            if chunk != words[start + size : start + 2 * size]:
                continue
            if size >= 4 or words[start + 2 * size : start + 3 * size] == chunk:
                return " ".join(chunk)
    return None


def length_ratio(source: str, english: str) -> bool:
    if len(source) < MIN_LENGTH_CHECKED:
        return False
    ratio = len(english) / len(source)
    return not LENGTH_BAND[0] <= ratio <= LENGTH_BAND[1]


AR_QUOTATION = re.compile(r'«[^»]{3,}»|"[^"]{3,}"|“[^”]{3,}”')
_EN_QUOTE = re.compile('["“”«»]')


def quote_mismatch(source: str, english: str) -> bool:
    return bool(AR_QUOTATION.search(source)) and not _EN_QUOTE.search(english)


# Negation (WMT 2021's critical errors: polarity). An Arabic word of negation, denial or
# refusal, with a gloss for the reader; clitics و and ف may be attached.
AR_NEGATIONS = {
    **dict.fromkeys(("لا",), "no, not"),
    **dict.fromkeys(("لم",), "did not"),
    **dict.fromkeys(("لن",), "will not"),
    **dict.fromkeys(("ليس", "ليست", "لست", "ليسوا", "لسنا", "ليسا", "لستم"), "is not"),
    **dict.fromkeys(("عدم",), "non-, lack of"),
    **dict.fromkeys(("دون", "بدون", "بلا"), "without"),
    **dict.fromkeys(("غير",), "not, non-"),
    **dict.fromkeys(("نفى", "نفت", "ينفي", "تنفي", "نفوا", "ينفون", "نفي"), "denied"),
    **dict.fromkeys(
        ("رفض", "رفضت", "يرفض", "ترفض", "رفضوا", "يرفضون", "نرفض", "أرفض"), "refused, rejected"
    ),
    **dict.fromkeys(("استبعد", "استبعدت", "يستبعد", "تستبعد", "استبعاد"), "ruled out"),
    **dict.fromkeys(("حال", "حالت", "يحول", "تحول"), "prevented"),  # only before دون: see below
}
AR_NEGATIONS = {fold_spelling(w): g for w, g in AR_NEGATIONS.items()}
# Phrases with a negation word that say no negation: "especially", "still", "must", "however".
_AR_NOT_NEGATION = [
    re.compile(p)
    for p in (
        r"(?<!\w)[وف]?لا\s+سيما(?!\w)",
        r"(?<!\w)[وف]?(?:لا|ما)\s+(?:يزال|تزال|زال|زالت|يزالون|زالوا|نزال)(?!\w)",
        r"(?<!\w)[وف]?لازال\w*",
        r"(?<!\w)[وف]?لا\s+بد(?!\w)",
        r"(?<!\w)[وف]?غير\s+[اأ]ن(?!\w)",
    )
]
_PREVENT = re.compile(r"(?<!\w)[وف]?(?:حال|حالت|يحول|تحول)\s+دون(?!\w)")
_AR_WORD = re.compile(f"{ARABIC_LETTER.pattern}+")
EN_NEGATION = re.compile(
    r"\b(?:no(?!-)|not|never|none|nobody|nothing|nowhere|neither|nor|without|cannot|unable|"
    r"den(?:y|ies|ied|ial)|refus\w*|reject\w*|rul(?:e|es|ed|ing)\s+out|prevent\w*|"
    r"fail\w*|lack\w*|absence)\b|n[’']t\b|\bnon-",
    re.IGNORECASE,
)


# غير before a word is English's un-, in-, il-, non- ("غير مسبوق" unprecedented, "غير قانوني"
# illegal): such a word counts as a negation of the English where the Arabic has غير.
_EN_PREFIXED = re.compile(
    r"\b(?!(?:under|until|united|union|unit|unique|univers|unless|install|import|improv|"
    r"increas|includ|inform|interest|intern|insist|issue|imag|illustr)\w*)"
    r"(?:un\w{4,}|non-?\w{3,}|il-?l\w{3,}|ir-?r\w{3,}|im-?p\w{3,}|in\w{5,})\b",
    re.IGNORECASE,
)


def arabic_negations(source: str) -> list[tuple[str, str]]:
    """The Arabic's words of negation, denial or refusal, each with its gloss (phrases that
    only look negative, such as لا سيما "especially" or لا يزال "still", left out)."""
    text = fold_spelling(source)
    for phrase in _AR_NOT_NEGATION:
        text = phrase.sub(" ", text)
    found = [(m.group(0), "prevented") for m in _PREVENT.finditer(text)]
    text = _PREVENT.sub(" ", text)
    for word in _AR_WORD.findall(text):
        stem = word[1:] if word[:1] in ("و", "ف") and word[1:] in AR_NEGATIONS else word
        if stem in AR_NEGATIONS and AR_NEGATIONS[stem] != "prevented":
            found.append((word, AR_NEGATIONS[stem]))
    return found


def english_negations(english: str) -> list[str]:
    """The English's words of negation, denial or refusal ("no", "not", "n't", "refused")."""
    return [m.group(0) for m in EN_NEGATION.finditer(english)]


def negation_mismatch(source: str, english: str) -> bool:
    """The meaning may be reversed: the English has fewer negations than the Arabic (one was
    lost), or has one where the Arabic has none. ("لا ... إلا" is "only": a negation the
    English may say as "only".)"""
    found = arabic_negations(source)
    arabic, translated = len(found), len(english_negations(english))
    if translated < arabic:  # غير as a prefix of an English word
        ghair = sum(gloss == AR_NEGATIONS["غير"] for _, gloss in found)
        translated += min(ghair, len(_EN_PREFIXED.findall(english)))
    if "الا" in fold_spelling(source).split() and re.search(
        r"\b(?:only|just|merely|solely)\b", english, re.IGNORECASE
    ):
        translated += 1
    return translated < arabic or (arabic == 0 and translated > 0)


def check_pair(
    source: str, english: str, score: float | None = None, threshold: float = DEFAULT_LOW_CONFIDENCE
) -> list[str]:
    """The flags of one translated sentence, in a fixed order."""
    flags = []
    if score is not None and score < threshold:
        flags.append(LOW_CONFIDENCE)
    if negation_mismatch(source, english):
        flags.append(NEGATION_MISMATCH)
    if number_mismatch(source, english):
        flags.append(NUMBER_MISMATCH)
    if untranslated(english):
        flags.append(UNTRANSLATED)
    if repetition(english):
        flags.append(REPETITION)
    if length_ratio(source, english):
        flags.append(LENGTH_RATIO)
    if quote_mismatch(source, english):
        flags.append(QUOTE_MISMATCH)
    return flags


_NAME = re.compile(r"\b[A-Z][a-z]+(?:['’][a-z]+)?\b")


def check_summary(sentence: str, sources_english: list[str], all_english: list[str]) -> list[str]:
    """Flags of an abstractive summary sentence: numbers none of its sources state, and
    capitalised names that no segment's English contains."""
    flags = []
    supported: set[float] = set()
    for text in sources_english:
        supported |= numbers(text, arabic=False)
    if numbers(sentence, arabic=False) - supported:
        flags.append(UNSUPPORTED_NUMBER)
    translation = " ".join(all_english)
    first = re.match(r"\W*(\w+)", sentence)
    for name in set(_NAME.findall(sentence)):
        if re.search(rf"\b{re.escape(name)}\b", translation):
            continue
        if (
            first
            and name == first.group(1)
            and re.search(rf"\b{re.escape(name.lower())}\b", translation.lower())
        ):
            continue  # a capital only because it starts the sentence
        flags.append(UNSUPPORTED_NAME)
        break
    return flags
