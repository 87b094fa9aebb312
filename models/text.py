"""How Arabic text is cleaned and cut: normalisation, paragraphs, sentences, and the splitting
of over-long sentences. Pure Python, no model needed."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from .errors import InputError

TATWEEL = "\u0640"
# Zero-width and bidi control marks: invisible, and they break tokenisation and memory keys.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
# C0/C1 control characters other than tab and newline.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The one definition of an Arabic letter (a character class body): the Arabic block's letters
# and the extended letters of Persian and Urdu names. A PDF's text layer may also hold the
# presentation forms, which extract.py adds for its own test of visual order.
ARABIC_LETTERS = "\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff"
PRESENTATION_FORMS = "\ufb50-\ufdff\ufe70-\ufeff"
ARABIC_LETTER = re.compile(f"[{ARABIC_LETTERS}]")
_LETTER = re.compile(r"[^\W\d_]")
# The one rule for "is this Arabic?": at least half of its letters are Arabic. The page, the
# command line, the pipeline's warning, language detection, the digest and the legacy-encoding
# guess all ask it through is_arabic.
MOSTLY_ARABIC = 0.5
# Spelling variants news writes alike: alef with hamza, madda or wasla to bare alef, alef
# maqsura to ya; and Arabic-Indic and Persian digits (and separators) to ASCII.
SPELLING_FOLD = str.maketrans("أإآٱى", "ااااي")
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬", "01234567890123456789.,")

SENTENCE_END = ".!?؟؛…"
CLOSERS = "\"'»”’)]}"
_OPEN_BRACKETS = {"(": ")", "[": "]", "{": "}", "«": "»", "“": "”"}
_CLOSE_BRACKETS = {v: k for k, v in _OPEN_BRACKETS.items()}
# A period after these does not end a sentence (English names inside Arabic news are common).
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "gen",
    "col",
    "lt",
    "sgt",
    "jr",
    "sr",
    "inc",
    "ltd",
    "co",
    "vs",
    "etc",
    "fig",
    "e.g",
    "i.e",
    "u.s",
    "u.n",
}
CLAUSE_MARKS = "،;,؛:"


def decode_utf8(data: bytes, where: str) -> str:
    """UTF-8 (a BOM allowed) or InputError naming the byte and the fix."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{where} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}). "
            f"Fix: convert it first, e.g. iconv -f WINDOWS-1256 -t UTF-8 (the usual legacy "
            f"Arabic encoding).",
            "invalid_utf8",
        ) from exc


def check_unicode(text: str, where: str) -> str:
    """`text` when it is valid Unicode; InputError for a lone surrogate (JSON allows one as
    `\\ud800`, and no model or file can take it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{where} holds a lone surrogate (U+{ord(text[exc.start]):04X} at character "
            f"{exc.start}), which is not valid Unicode. Fix: send UTF-8 text; a surrogate is "
            f"only valid as half of a pair.",
            "invalid_unicode",
        ) from None
    return text


def detect_language(text: str) -> dict:
    """Script-based detection for the two languages khulasa reads: Arabic letters mean `ar`,
    Latin letters `en`. `confidence` is the share of letters in that script, 0-100."""
    ratio = arabic_ratio(text)
    letters = sum(ch.isalpha() for ch in text)
    if not letters:
        return {"confidence": 0.0, "language": "ar"}
    if ratio >= MOSTLY_ARABIC:
        return {"confidence": round(ratio * 100, 1), "language": "ar"}
    latin = sum(ch.isascii() and ch.isalpha() for ch in text) / letters
    return {"confidence": round(latin * 100, 1), "language": "en"}


def normalize(text: str) -> str:
    """NFC, no tatweel, no invisible or control marks, tidy whitespace; newlines kept."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace(TATWEEL, "")
    text = _INVISIBLE.sub("", text)
    text = text.replace("\t", " ").replace("\u00a0", " ")
    text = _CONTROL.sub("", text)
    text = re.sub(r"[ \u2000-\u200a\u202f\u205f\u3000]+", " ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def is_arabic(text: str) -> bool:
    """Whether `text` is Arabic: at least MOSTLY_ARABIC of its letters are."""
    return arabic_ratio(text) >= MOSTLY_ARABIC


def check_arabic(text: str, fix: str) -> None:
    """InputError `not_arabic` (naming `fix`) for text that is not Arabic: it is not sent to
    the translator, which would give nonsense for it."""
    if not is_arabic(text):
        raise InputError(
            f"This text is not Arabic ({arabic_ratio(text):.0%} of its letters are Arabic), so "
            f"it was not sent to the translator: khulasa translates Arabic into English. {fix}",
            "not_arabic",
        )


def check_text(
    text: str | None,
    max_chars: int | None,
    *,
    force: bool = False,
    where: str = "The input",
    fix_long: str = "Send the first part, or split it.",
    fix_empty: str = "Paste or pass some Arabic text.",
    fix_arabic: str = "Fix: give an Arabic article.",
) -> str:
    """`text` when a model may take it; InputError otherwise, in this order on every door:
    not valid Unicode (`invalid_unicode`), too long (`too_long`; `max_chars` None: no limit),
    empty (`empty_input`), not Arabic (`not_arabic`, unless `force`). `where` names the text
    ("The input", "This article", "Record 7"); the fixes are each door's own words."""
    text = text or ""
    check_unicode(text, where)
    if max_chars is not None and len(text) > max_chars:
        raise InputError(
            f"{where} is {len(text):,} characters; the limit here is {max_chars:,}. "
            f"Fix: {fix_long}",
            "too_long",
        )
    if not normalize(text):
        raise InputError(f"{where} is empty: {fix_empty}", "empty_input")
    if not force:
        check_arabic(text, fix_arabic)
    return text


def fold_spelling(text: str) -> str:
    """`text` with its Arabic spelling variants folded (SPELLING_FOLD)."""
    return text.translate(SPELLING_FOLD)


def arabic_ratio(text: str) -> float:
    """Share of letters that are Arabic (0.0 when there are no letters)."""
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    return sum(1 for ch in letters if ARABIC_LETTER.match(ch)) / len(letters)


def split_paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines, each with its line breaks kept."""
    return [p for p in (block.strip() for block in re.split(r"\n\s*\n", text)) if p]


def _join_broken_lines(paragraph: str) -> list[str]:
    """Lines of a paragraph, rejoining a line that leaves a bracket open (`(أ ف ب` then `)`)
    or that holds no letter or digit (a lone `)`), since neither is a sentence of its own."""
    lines: list[str] = []
    for line in paragraph.split("\n"):
        line = line.strip()
        if not line:
            continue
        if lines and (_open_depth(lines[-1]) > 0 or not re.search(r"[^\W_]", line)):
            glue = "" if line[0] in CLOSERS else " "
            lines[-1] = lines[-1] + glue + line
        else:
            lines.append(line)
    return lines


def _open_depth(text: str) -> int:
    depth = 0
    for ch in text:
        if ch in _OPEN_BRACKETS:
            depth += 1
        elif ch in _CLOSE_BRACKETS and depth:
            depth -= 1
    return depth


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, in order. Line breaks end sentences; so do `. ! ? ؟ ؛ …`
    (with any closing quotes or brackets) outside brackets and balanced quotes. A period glued
    between two Arabic words (`المنظمة.وكقاعدة`) splits; decimals, single-letter abbreviations
    (`أ.ف.ب`, `U.S.`) and text inside brackets (`(أ ف ب)`) stay whole."""
    sentences: list[str] = []
    for line in _join_broken_lines(paragraph):
        sentences.extend(_split_line(line))
    return sentences


def _split_line(line: str) -> list[str]:
    # ASCII double quotes open and close alike; trust them only when they pair up.
    track_quotes = line.count('"') % 2 == 0
    pieces: list[str] = []
    start, depth, in_quote, i, n = 0, 0, False, 0, len(line)
    while i < n:
        ch = line[i]
        closed = False  # whether `ch` closes a quote or bracket, back at the top level
        if ch in _OPEN_BRACKETS:
            depth += 1
        elif ch in _CLOSE_BRACKETS and depth:
            depth -= 1
            closed = True
        elif ch == '"' and track_quotes:
            in_quote = not in_quote
            closed = not in_quote
        top = depth == 0 and not in_quote
        mark = (
            i
            if ch in SENTENCE_END
            else (i - 1 if closed and i and line[i - 1] in SENTENCE_END else -1)
        )
        if top and mark >= 0:
            end = i + 1
            while end < n and line[end] in SENTENCE_END + "'’":
                end += 1
            if _is_boundary(line, mark, end):
                pieces.append(line[start:end].strip())
                start = end
                i = end
                continue
        i += 1
    pieces.append(line[start:].strip())
    return [p for p in pieces if p]


def _is_boundary(line: str, i: int, end: int) -> bool:
    """Whether the terminal mark at `line[i]` (run ending at `end`) ends a sentence."""
    if end >= len(line):
        return True
    nxt = line[end]
    if line[i] == ".":
        before = line[i - 1] if i else ""
        if before.isdigit() and nxt.isdigit():
            return False  # 3.5
        word = re.search(r"([^\W\d_]+(?:\.[^\W\d_]+)*)$", line[:i])
        if word and (
            len(word.group(1).split(".")[-1]) == 1 or word.group(1).lower() in _ABBREVIATIONS
        ):
            return False  # أ.ف.ب, U.S., Dr.
        if not nxt.isspace():
            # Glued sentences split only between Arabic words: URLs and names stay whole.
            return bool(ARABIC_LETTER.match(before) and ARABIC_LETTER.match(nxt))
    return nxt.isspace() or bool(ARABIC_LETTER.match(nxt))


def split_long(sentence: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Cut `sentence` into pieces of at most `limit` tokens: at clause marks (`، ; , ؛ :`)
    first, then between words, and only as a last resort inside a word. Nothing is dropped:
    joining the pieces with spaces gives back every word."""
    if count_tokens(sentence) <= limit:
        return [sentence]
    clauses = re.findall(rf"[^{CLAUSE_MARKS}]+[{CLAUSE_MARKS}]*|[{CLAUSE_MARKS}]+", sentence)
    parts = _pack([c.strip() for c in clauses if c.strip()], count_tokens, limit)
    out: list[str] = []
    for part in parts:
        if count_tokens(part) <= limit:
            out.append(part)
            continue
        for chunk in _pack(part.split(), count_tokens, limit):
            out.extend(
                [chunk] if count_tokens(chunk) <= limit else _cut_word(chunk, count_tokens, limit)
            )
    return out


def _pack(units: list[str], count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Greedily join consecutive units with spaces while the result fits `limit`."""
    packed: list[str] = []
    for unit in units:
        if packed and count_tokens(packed[-1] + " " + unit) <= limit:
            packed[-1] = packed[-1] + " " + unit
        else:
            packed.append(unit)
    return packed


def _cut_word(word: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Split one over-long run of characters (no spaces) by binary search on its length."""
    out = []
    while word:
        lo, hi = 1, len(word)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count_tokens(word[:mid]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        out.append(word[:lo])
        word = word[lo:]
    return out


_EN_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"“'‘(\[]?[A-Z0-9])")


def split_english(text: str) -> list[str]:
    """Sentences of English model output (summaries), for provenance per sentence."""
    sentences: list[str] = []
    for block in re.split(r"\n+", text.strip()):
        start = 0
        for m in _EN_BOUNDARY.finditer(block):
            word = re.search(r"(\w+(?:\.\w+)*)\.$", block[start : m.start()])
            if word and (len(word.group(1)) == 1 or word.group(1).lower() in _ABBREVIATIONS):
                continue  # U.S. / Mr. / J. Kerry
            sentences.append(block[start : m.end()].strip())
            start = m.end()
        if block[start:].strip():
            sentences.append(block[start:].strip())
    return sentences


def is_link(text: str) -> bool:
    """Whether `text` is a link (what `khulasa translate` tells from a file name)."""
    return text.strip().lower().startswith(("http://", "https://"))
