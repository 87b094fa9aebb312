"""Pinned spellings: a glossary of Arabic terms and the English each must be rendered as.

A desk that follows one story wants "كيري" as "Kerry" and "داعش" as "ISIS" (or "Daesh", by its
style guide) in every article, digest and batch. A glossary comes from a file (CSV or TSV: the
Arabic term, then its English; TBX, read with translate-toolkit), from a REST request's
`glossary` field, or from the page; one on the server (`serve --glossary`) is merged under
the request's (the request's rendering of a term wins).

Matching: a term's words are found in a sentence's Arabic after the spelling fold the checks
use, with the clitics a word may carry (و، ب، ل، ف، ال and their pairs: وبكيري, للتحالف), but
no ending (العراقي, Iraqi, is not the term العراق, Iraq).

Applied honestly, sentence by sentence (`apply`), after the translation and its second tries:
1. the model's first wording already uses every pinned rendering: kept (`as_translated`);
2. else the best-scoring wording among the model's n-best (NBEST) that uses them is taken
   (`wording N`, N its rank);
3. else, for each rendering still missing, the words the model wrote for that term are
   replaced, where the document shows which words those are (`document_renderings`: a form
   only the term's sentences use, used by most of them; or the article's own rendering of the
   name), or, when the document renders the term nowhere, a capitalised form of this sentence
   that sounds like it (`replaced`, with the words replaced);
4. else the term is `not_applied`, and the sentence is marked "glossary term not applied".
Every sentence holding a term records each term and how it was applied (`Segment.glossary`,
in the JSON). A sentence with no term is untouched: its output is the same as without a
glossary. A sentence whose wording changed is marked "glossary applied" and checked again.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from .checks import GLOSSARY_NOT_APPLIED
from .errors import InputError
from .names import _arabic_forms, _holds, renderings, sounds_alike
from .text import check_unicode, fold_spelling, normalize

NBEST = 4  # wordings asked of the model for a sentence whose first wording lacks a rendering
MAX_TERMS = 5000  # terms in one glossary file
MAX_INLINE = 200  # terms in one request's glossary
MAX_TERM_CHARS = 200  # characters of one term or rendering
MAX_FILE_BYTES = 4 * 2**20
SUFFIXES = (".csv", ".tsv", ".tbx")

GLOSSARY_APPLIED = "glossary_applied"  # another of the model's wordings, or a replacement
_ARABIC_WORD = re.compile(r"[\u0621-\u064a]+")


@dataclass(frozen=True)
class Term:
    arabic: str  # as given
    english: str  # the pinned rendering
    words: tuple[str, ...]  # the Arabic words, folded

    def found_in(self, forms: set[str]) -> bool:
        """Whether a sentence's Arabic forms (`_arabic_forms`: each word whole and without
        its clitics) hold every word of the term. No ending is allowed: العراقي (Iraqi) is
        not العراق (Iraq)."""
        return all(w in forms for w in self.words)


@dataclass(frozen=True)
class Glossary:
    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def over(self, base: Glossary | None) -> Glossary:
        """This glossary's terms, then `base`'s that it does not pin (this one wins)."""
        if not base:
            return self
        mine = {t.words for t in self.terms}
        return Glossary(self.terms + tuple(t for t in base.terms if t.words not in mine))

    def in_sentence(self, source: str) -> list[Term]:
        forms = _arabic_forms(source)
        return [t for t in self.terms if t.found_in(forms)]

    def to_list(self) -> list[dict]:
        return [{"ar": t.arabic, "en": t.english} for t in self.terms]


def bad_glossary(where: str, problem: str) -> InputError:
    return InputError(
        f"{where}: {problem}. Fix: one term a line, the Arabic term then its English "
        "rendering (CSV, or TSV: tab between them), or a TBX file.",
        "bad_glossary",
    )


def make_term(arabic, english, where: str) -> Term:
    if not isinstance(arabic, str) or not isinstance(english, str):
        raise bad_glossary(where, "a term and its rendering must both be text")
    arabic, english = (
        normalize(check_unicode(arabic, where)),
        normalize(check_unicode(english, where)),
    )
    if not arabic or not english:
        raise bad_glossary(where, "a term or its rendering is empty")
    if len(arabic) > MAX_TERM_CHARS or len(english) > MAX_TERM_CHARS:
        raise bad_glossary(where, f"a term or rendering is over {MAX_TERM_CHARS} characters")
    words = tuple(_bare(w) for w in _ARABIC_WORD.findall(fold_spelling(arabic)))
    if not words:
        raise bad_glossary(where, f"the term {arabic!r} has no Arabic word")
    return Term(arabic, english, words)


def _bare(word: str) -> str:
    """A term's word without its article (التحالف: تحالف), as a sentence's forms hold it."""
    return word[2:] if word.startswith("ال") and len(word) - 2 >= 3 else word


def from_pairs(pairs, where: str, most: int = MAX_TERMS) -> Glossary:
    terms: dict[tuple[str, ...], Term] = {}
    for k, (arabic, english) in enumerate(pairs, 1):
        if k > most:
            raise bad_glossary(where, f"more than {most:,} terms")
        term = make_term(arabic, english, f"{where}, term {k}")
        terms[term.words] = term  # a term given twice: the later rendering
    return Glossary(tuple(terms.values()))


def parse_inline(value, where: str = "glossary") -> Glossary:
    """A request's glossary: {"كيري": "Kerry"}, [{"ar": ..., "en": ...}], or [[ar, en]]."""
    if value in (None, "", [], {}):
        return Glossary()
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for item in value:
            if isinstance(item, dict) and set(item) == {"ar", "en"}:
                pairs.append((item["ar"], item["en"]))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append(tuple(item))
            else:
                raise bad_glossary(where, 'each term is {"ar": ..., "en": ...} or [ar, en]')
    else:
        raise bad_glossary(where, 'give {"term": "rendering", ...} or a list of terms')
    return from_pairs(pairs, where, MAX_INLINE)


def parse_lines(text: str, where: str = "Pinned spellings") -> Glossary:
    """The page's pinned spellings: one `Arabic = English` a line (blank lines skipped)."""
    pairs = []
    for k, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        arabic, sep, english = line.partition("=")
        if not sep:
            raise bad_glossary(f"{where}, line {k}", "write the Arabic, then =, then the English")
        pairs.append((arabic.strip(), english.strip()))
    return from_pairs(pairs, where, MAX_INLINE)


def read_glossary(path) -> Glossary:
    """A glossary file: .csv, .tsv (a header row of two non-Arabic names is skipped) or .tbx."""
    from pathlib import Path

    path = Path(path)
    name = path.name
    if not path.is_file():
        from .errors import OptionError

        raise OptionError(f"--glossary {path}: no such file. Fix: give a CSV, TSV or TBX file.")
    if path.suffix.lower() not in SUFFIXES:
        raise bad_glossary(name, f"not a glossary file ({', '.join(SUFFIXES)})")
    data = read_capped(path, MAX_FILE_BYTES, bad_glossary)
    if path.suffix.lower() == ".tbx":
        return from_pairs(_tbx_pairs(data, name), name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bad_glossary(name, "not UTF-8 text") from None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = [
        r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)
    ]
    if rows and not _ARABIC_WORD.search(fold_spelling(rows[0][0] if rows[0] else "")):
        rows = rows[1:]  # a header: "ar,en", "source,target"
    for k, row in enumerate(rows, 1):
        if len(row) != 2:
            raise bad_glossary(f"{name}, row {k}", f"{len(row)} columns, not 2")
    return from_pairs(rows, name)


def _tbx_pairs(data: bytes, name: str) -> list[tuple[str, str]]:
    """(Arabic, English) of each TBX concept, read by translate-toolkit (its parser refuses
    entities and DTDs that expand)."""
    from translate.storage.tbx import tbxfile

    if declares_entities(data):
        raise bad_glossary(name, "a TBX file declaring entities (not read, for safety)")
    try:
        store = tbxfile(io.BytesIO(data))
    except Exception as exc:
        raise bad_glossary(name, f"not a TBX file this reader understands ({exc})") from None
    pairs = [(u.source, u.target) for u in store.units if u.source or u.target]
    if not pairs:
        raise bad_glossary(name, "a TBX file with no term")
    return pairs


def read_capped(path, most: int, refuse) -> bytes:
    """The bytes of the file at `path`, never more than `most` read (`refuse(name, problem)`
    makes the error for a longer one); a file that cannot be read is `unreadable`."""
    try:
        with open(path, "rb") as f:
            data = f.read(most + 1)
    except OSError as exc:
        raise InputError(f"Cannot read {path.name}: {exc.strerror}.", "unreadable") from exc
    if len(data) > most:
        raise refuse(path.name, f"over {most // 2**20} MiB (split it)")
    return data


def declares_entities(data: bytes) -> bool:
    """Whether an XML file declares entities or an internal DTD subset (which could expand a
    small file into a huge one): such files are refused unread."""
    return re.search(rb"<!ENTITY|<!DOCTYPE[^>\[]*\[", data[:65536]) is not None or (
        b"<!ENTITY" in data
    )


def uses(english: str, rendering: str) -> bool:
    """Whether `english` holds `rendering` as whole words (any case)."""
    return re.search(rf"(?<!\w){re.escape(rendering)}(?!\w)", english or "", re.I) is not None


_FORM = re.compile(r"(?<![\w-])[A-Z][A-Za-z]+(?:[-'][A-Z]?[a-z]+)*(?![\w-])")
COVERS = 0.8  # a form is a term's rendering when this share of the term's sentences use it


def _forms(english: str) -> set[str]:
    """Capitalised words and acronyms (ISIS) of `english`, but a title or an ordinary first
    word (names.py's lists)."""
    from .names import STARTERS, TITLES

    found = set()
    for m in _FORM.finditer(english or ""):
        if m.group(0) not in TITLES and not (m.start() == 0 and m.group(0) in STARTERS):
            found.add(m.group(0))
    return found


def document_renderings(terms: list[Term], pairs: list[tuple[str, str]]) -> dict:
    """How the document renders each term, where it shows it: {term words: English form} for
    a form that only sentences holding the term use, used by most of them (COVERS) and by at
    least two; else the article's own rendering of the name (names.py's `renderings`)."""
    holds = [_arabic_forms(a) for a, _ in pairs]
    forms = [_forms(e) for _, e in pairs]
    by_name = renderings(pairs)
    found = {}
    for term in terms:
        mine = {k for k, h in enumerate(holds) if term.found_in(h) and pairs[k][1]}
        best = None
        for form in set().union(*(forms[k] for k in mine)) if mine else ():
            users = {k for k, f in enumerate(forms) if form in f}
            if len(users) >= 2 and users <= mine and len(users) >= COVERS * len(mine):
                key = (len(users), form)
                best = max(best, key) if best else key
        if best:
            found[term.words] = best[1]
            continue
        for form, arabic in by_name.items():
            if any(_holds({arabic}, w) or _holds({w}, arabic) for w in term.words):
                found[term.words] = form
                break
    return found


def the_models_words(term: Term, english: str, known: dict) -> str | None:
    """The words `english` renders `term` with, where the document shows them
    (`document_renderings`), or a capitalised form of this sentence that sounds like a
    one-word term; None when neither is there."""
    form = known.get(term.words)
    if form:  # the document's rendering, or nothing: a look-alike here is another word
        return form if uses(english, form) else None
    if len(term.words) == 1:
        alike = [(sounds_alike(term.words[0], f), f) for f in _forms(english)]
        alike = [a for a in alike if a[0] >= 0.75]
        if alike:
            return max(alike)[1]
    return None


def replace_words(english: str, words: str, rendering: str) -> str:
    return re.sub(rf"(?<!\w){re.escape(words)}(?!\w)", rendering, english)


def choose(
    terms: list[Term],
    current: tuple[str, float | None],
    wordings: list[tuple[str, float | None]],
    known: dict,
) -> tuple[str, float | None, list[dict], list[str]]:
    """A sentence's English under the glossary: (english, score, how each term was applied,
    flags). `current`: its English now (first try or the better second try); `wordings`: the
    model's n-best, best first."""
    english, score, rank = current[0], current[1], 0
    best = sum(uses(english, t.english) for t in terms)
    if best < len(terms):
        for k, (candidate, candidate_score) in enumerate(wordings):
            used = sum(uses(candidate, t.english) for t in terms)
            if used > best:  # the best-scoring wording that uses the most renderings
                english, score, rank, best = candidate, candidate_score, k + 1, used
            if best == len(terms):
                break
    records = []
    for t in terms:
        record = {"ar": t.arabic, "en": t.english}
        if uses(english, t.english):
            first = rank == 0 or uses(current[0], t.english)
            record["how"] = "as_translated" if first else f"wording {rank}"
        elif words := the_models_words(t, english, known):
            english = replace_words(english, words, t.english)
            record.update(how="replaced", replaced=words)
        else:
            record["how"] = "not_applied"
        records.append(record)
    flags = []
    if any(r["how"] != "as_translated" and r["how"] != "not_applied" for r in records):
        flags.append(GLOSSARY_APPLIED)
    if any(r["how"] == "not_applied" for r in records):
        flags.append(GLOSSARY_NOT_APPLIED)
    return english, score, records, flags
