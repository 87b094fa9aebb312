"""What each warning on a sentence rests on, in a reader's words: the numbers that differ, the
quotation the English lost, how much shorter the English is, the words left in Arabic, the
words repeated, the model's score. The page shows it beside the warning's explanation."""

from __future__ import annotations

import re

from .checks import (
    AR_QUOTATION,
    EXPLANATIONS,
    GLOSSARY_NOT_APPLIED,
    LENGTH_BAND,
    LENGTH_RATIO,
    LOW_CONFIDENCE,
    NAME_MISMATCH,
    NEGATION_MISMATCH,
    NUMBER_MISMATCH,
    PLAIN,
    QUOTE_MISMATCH,
    REPETITION,
    UNTRANSLATED,
    WARNINGS,
    arabic_negations,
    confidence,
    english_negations,
    harm,
    numbers,
    repeated_run,
)
from .names import name_evidence
from .text import ARABIC_LETTERS

_ARABIC_WORD = re.compile(f"[{ARABIC_LETTERS}]+")
SHOWN_WORDS = 6  # of a quotation or a repeated run


def _short(words: list[str]) -> str:
    return " ".join(words[:SHOWN_WORDS]) + (" …" if len(words) > SHOWN_WORDS else "")


def evidence(source: str, english: str | None, flags: list[str], score: float | None = None):
    """{flag: its evidence} for the flags of one translated sentence that have some."""
    if not english:
        return {}
    found = {}
    if NEGATION_MISMATCH in flags:
        found[NEGATION_MISMATCH] = _negations(source, english)
    if NUMBER_MISMATCH in flags:
        arabic, translated = numbers(source, True), numbers(english, False)

        def listed(values: set[float]) -> str:
            return ", ".join(f"{v:g}" for v in sorted(values)) or "none"

        found[NUMBER_MISMATCH] = (
            f"Arabic {listed(arabic - translated)}, English {listed(translated - arabic)}."
        )
    if QUOTE_MISMATCH in flags and (quote := AR_QUOTATION.search(source)):
        words = quote.group(0).strip('«»"“”').split()
        found[QUOTE_MISMATCH] = (
            f"The Arabic quotes «{_short(words)}»; the English has no quotation marks."
        )
    if LENGTH_RATIO in flags:
        low, high = (round(len(source) * r) for r in LENGTH_BAND)
        found[LENGTH_RATIO] = (
            f"The English has {len(english):,} characters for the Arabic's {len(source):,}; "
            f"a full translation has about {low:,} to {high:,}."
        )
    if UNTRANSLATED in flags:
        left = list(dict.fromkeys(_ARABIC_WORD.findall(english)))
        found[UNTRANSLATED] = f"The English keeps {_short(left)}."
    if REPETITION in flags and (run := repeated_run(english)):
        found[REPETITION] = f"Repeated: “{_short(run.split())}”."
    if LOW_CONFIDENCE in flags and score is not None:
        found[LOW_CONFIDENCE] = (
            f"Model confidence: {confidence(score)} (score {score:.2f}; the model is surest "
            "near 0)."
        )
    return found


def _negations(source: str, english: str) -> str:
    """Which words of negation each side has: "The Arabic says «لا» (no, not); the English
    has none."."""
    arabic = [f"«{w}» ({gloss})" for w, gloss in arabic_negations(source)]
    translated = [f"“{w}”" for w in english_negations(english)]
    said = f"The Arabic says {', '.join(arabic)}" if arabic else "The Arabic has no negation"
    told = f"the English says {', '.join(translated)}" if translated else "the English has none"
    return f"{said}; {told}."


def reasons(seg, names: list[dict] | None = None) -> list[str]:
    """Each warning of `seg`, the most harmful first, in plain words with what it rests on
    (`names`: its document's meta.names, for a name's renderings):
    "the meaning may be reversed: The Arabic says «لا» (no, not); the English has none."."""
    if seg.english is None:
        return []
    found = evidence(seg.source, seg.english, seg.flags, seg.score)
    if NAME_MISMATCH in seg.flags and (said := name_evidence(seg.index, names)):
        found[NAME_MISMATCH] = said
    missed = [g for g in seg.glossary or () if g.get("how") == "not_applied"]
    if missed:
        found[GLOSSARY_NOT_APPLIED] = (
            "; ".join(
                f"The glossary pins «{g['ar']}» as “{g['en']}”; no wording of the model uses it"
                for g in missed
            )
            + "."
        )
    out = []
    for f in sorted((f for f in seg.flags if f in WARNINGS), key=lambda f: harm([f])):
        out.append(f"{PLAIN[f]}: {found.get(f) or EXPLANATIONS[f]}")
    return out


def marked(doc) -> list:
    """The sentences to check, the most harmful first, then in reading order."""
    flagged = [s for s in doc.segments if any(f in WARNINGS for f in s.flags)]
    return sorted(flagged, key=lambda s: (harm(s.flags), s.index))
