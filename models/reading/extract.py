"""Article text out of the files readers hold: plain text in any usual encoding, saved web
pages, Word files and PDFs with a text layer. One function per kind, each returning the text
and what is known of the article (`Extracted`); `extract` picks the kind from the bytes, not
the name, and refuses a name that claims another kind.

Bounds: MAX_BYTES per file, MAX_UNCOMPRESSED inside a .docx (a zip bomb is refused before it
is inflated), MAX_PAGES per PDF. Every refusal is an InputError with a code and the fix.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ..errors import InputError
from ..text import ARABIC_LETTERS, PRESENTATION_FORMS, is_arabic
from .records import csv_records, jsonl_records, parquet_records

MAX_BYTES = 20 * 2**20
MAX_UNCOMPRESSED = 50 * 2**20
MAX_PAGES = 200


def kinds_in_words(described: bool = False) -> str:
    """ ".txt, .html, .docx or .pdf", or with each kind's description."""
    names = [k.words if described else k.suffixes[0] for k in KINDS if not k.records]
    return ", ".join(names[:-1]) + " or " + names[-1]


# Common Arabic words: in logical order a text is full of them; a PDF's text in visual
# (reversed) order has them backwards.
_COMMON = frozenset("في من على إلى أن التي الذي عن مع هذا هذه كان قال بين أو ما لا".split())
_ARABIC_WORD = re.compile(f"[{ARABIC_LETTERS}{PRESENTATION_FORMS}]+")
_LTR_RUN = re.compile(r"[0-9A-Za-z\u0660-\u0669][0-9A-Za-z\u0660-\u0669.,:%/\-']*")


@dataclass
class Extracted:
    """An article's text and what its file says of it."""

    text: str
    format: str  # txt, html, docx or pdf
    title: str | None = None
    date: str | None = None
    outlet: str | None = None  # the site or paper that published it
    author: str | None = None
    url: str | None = None
    encoding: str | None = None  # txt: the encoding found
    notes: list[str] = field(default_factory=list)  # e.g. "visual order repaired"

    def about(self) -> dict:
        """`Document.meta.source`: the known fields only."""
        return {k: v for k, v in asdict(self).items() if k != "text" and v not in (None, [])}


def kind_of(data: bytes) -> str:
    """The document kind the bytes are (each kind's `sniff`, in KINDS' order); "zip" for a
    zip archive no kind takes; "txt" when nothing else fits."""
    for kind in KINDS:
        if kind.sniff is not None and kind.sniff(data):
            return kind.name
    return "zip" if data.startswith(b"PK\x03\x04") else "txt"


def _is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-")


def _is_docx(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        return "word/document.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return False


def _is_html(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<article", b"<meta")):
        return True
    return bool(re.match(rb"<[a-z][a-z0-9]*[\s>/]", head)) and b"</" in data[:65536]


def checked_kind(data: bytes, name: str = "") -> str:
    """txt, html, docx or pdf from the bytes, or InputError when the file is too large or
    its name claims another type (a .txt holding HTML is read as HTML)."""
    where = name or "the file"
    if len(data) > MAX_BYTES:
        raise InputError(
            f"{where} is {len(data) / 2**20:.1f} MiB; the limit is {MAX_BYTES // 2**20} MiB.",
            "too_large",
        )
    kind = kind_of(data)
    claimed = SUFFIXES.get(_suffix(name))
    if kind == "zip" and claimed == "docx":  # a Word file is a zip: this one does not open
        raise InputError(
            f"{where} is named as a Word file but cannot be opened as one (it is damaged or cut "
            "short). Fix: open it in Word or LibreOffice and save it again, or save the article "
            "as .txt.",
            "damaged_file",
        )
    if kind == "zip" or (claimed and claimed != kind and not (claimed == "txt" and kind == "html")):
        found = "a zip archive that is not a Word file" if kind == "zip" else f"a {kind} file"
        raise InputError(
            f"{where} is named as {claimed or 'a document'} but its content is {found}. Fix: "
            f"give the file its real type ({kinds_in_words()}).",
            "type_mismatch",
        )
    return kind


def extract(data: bytes, name: str = "", url: str | None = None) -> Extracted:
    """The article in `data`. `name` (a file name) only has to agree with the content."""
    where = name or "the file"
    kind = checked_kind(data, name)
    read = BY_NAME[kind].read
    return read(data, where, url) if kind == "html" else read(data, where)


def _suffix(name: str) -> str:
    return ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""


def extract_txt(data: bytes, where: str = "the file") -> Extracted:
    """UTF-8 (a BOM allowed), UTF-16 with a BOM, or a legacy Arabic encoding (cp1256,
    ISO-8859-6) found by charset-normalizer; the encoding is recorded."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return Extracted(data.decode("utf-16"), "txt", encoding="utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{where} starts with a UTF-16 byte order mark but is not valid UTF-16 "
                f"({exc.reason} at byte {exc.start}; a cut file?). Fix: save it again as "
                f"UTF-8.",
                "invalid_encoding",
            ) from None
    try:
        encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
        return Extracted(data.decode(encoding), "txt", encoding=encoding)
    except UnicodeDecodeError as exc:
        bad = exc
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["cp1256", "iso8859_6"]).best()
    text = str(best) if best is not None else ""
    if best is None or not is_arabic(text):
        raise InputError(
            f"{where} is not valid UTF-8 (byte 0x{data[bad.start]:02x} at offset {bad.start}) "
            "and is not Arabic in a legacy encoding either. Fix: save it as UTF-8.",
            "invalid_utf8",
        )
    return Extracted(text, "txt", encoding=best.encoding)


def extract_html(data: bytes | str, where: str = "the page", url: str | None = None) -> Extracted:
    """The main article text of a web page (trafilatura): no navigation, related links,
    comments or boilerplate; paragraphs kept."""
    import trafilatura

    found = trafilatura.bare_extraction(
        data, url=url, with_metadata=True, include_comments=False, include_tables=False,
        favor_precision=True,
    )  # fmt: skip
    text = (found.text or "").strip() if found is not None else ""
    if not text:
        raise InputError(
            f"{where} has no article text that could be found (a page of links, a login or "
            "a script-built page?). Fix: save the article's own page, or paste its text.",
            "no_article",
        )
    text = re.sub(r"\n+", "\n\n", text)
    return Extracted(
        text, "html", title=found.title, date=found.date, outlet=found.sitename,
        author=found.author, url=found.url or url,
    )  # fmt: skip


def extract_docx(data: bytes, where: str = "the file") -> Extracted:
    """The paragraphs of a Word file (python-docx), after checking that it does not inflate
    past MAX_UNCOMPRESSED."""
    import docx

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        inflated = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise InputError(f"{where} is not a readable Word file ({exc}).", "unreadable") from None
    if inflated > MAX_UNCOMPRESSED:
        raise InputError(
            f"{where} would inflate to {inflated / 2**20:.0f} MiB; at most "
            f"{MAX_UNCOMPRESSED // 2**20} MiB is read (a zip bomb?).",
            "too_large",
        )
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several types for damaged files
        raise InputError(f"{where} is not a readable Word file ({exc}).", "unreadable") from None
    paragraphs = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    if not paragraphs:
        raise InputError(f"{where} has no text.", "empty_input")
    props = document.core_properties
    created = props.created.date().isoformat() if props.created else None
    text = "\n\n".join(paragraphs)
    return Extracted(text, "docx", title=props.title or None, author=props.author or None,
                     date=created)  # fmt: skip


def extract_pdf(data: bytes, where: str = "the file") -> Extracted:
    """The text layer of a PDF (pypdf): presentation forms turned back into letters, lines
    in visual (reversed) order detected and put back in reading order. A PDF without a text
    layer (scanned) is refused."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InputError(f"{where} is encrypted. Fix: save an unprotected copy.", "unreadable")
        if len(reader.pages) > MAX_PAGES:
            raise InputError(
                f"{where} has {len(reader.pages)} pages; at most {MAX_PAGES} are read. Fix: "
                "split it.",
                "too_large",
            )
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise InputError(f"{where} is not a readable PDF ({exc}).", "unreadable") from None
    raw = "\n\n".join(p.strip() for p in pages if p.strip())
    if sum(ch.isalpha() for ch in raw) < 20:
        raise InputError(
            f"{where} has no text layer (a scanned PDF?): khulasa reads text, not images. "
            "Fix: run it through OCR first, or paste the text.",
            "no_text_layer",
        )
    notes = []
    lines = raw.split("\n")
    if _visual_order(lines):
        lines = [_to_logical(line) for line in lines]
        notes.append("visual order repaired")
    text = unicodedata.normalize("NFKC", "\n".join(line.strip() for line in lines))
    info = reader.metadata
    title = info.title if info is not None and info.title else None
    if title and title.strip().lower() in ("untitled", "anonymous"):  # tools' placeholders
        title = None
    return Extracted(text, "pdf", title=title, notes=notes)


def _words(line: str) -> list[str]:
    return _ARABIC_WORD.findall(line)


def _visual_order(lines: list[str]) -> bool:
    """Whether the Arabic reads backwards: more common words appear reversed than as they
    are (compared after presentation forms are turned into letters)."""
    forward = backward = 0
    for line in lines:
        for word in _words(unicodedata.normalize("NFKC", line)):
            forward += word in _COMMON
            backward += word[::-1] in _COMMON
    return backward > forward


def _to_logical(line: str) -> str:
    """A line in visual order back to reading order: the characters reversed, then runs of
    digits and Latin (which visual order keeps left to right) reversed back; brackets
    mirrored."""
    if not _words(line):
        return line
    flipped = line[::-1].translate(str.maketrans("()[]{}<>«»", ")(][}{><»«"))
    return _LTR_RUN.sub(lambda m: m.group(0)[::-1], flipped)


# The registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A kind of input file: its name, the suffixes it goes by, how help texts and the page
    describe it, how its bytes are told (`sniff`; None: by its suffix only, or the fallback),
    its reader, and whether it holds many records (id and text fields) or one document.
    Adding a kind is one entry of KINDS: help texts, upload widgets, REST's
    supportedFilesFormat, the batch and digest inputs and the errors read it."""

    name: str
    suffixes: tuple[str, ...]
    words: str
    read: Callable
    sniff: Callable[[bytes], bool] | None = None
    records: bool = False


KINDS = (  # the one table of input kinds (each sniffer takes bytes no other one does)
    Kind("txt", (".txt",), ".txt (UTF-8, UTF-16 or cp1256)", extract_txt),  # what else fits
    Kind("html", (".html", ".htm"), ".html (a saved web page)", extract_html, _is_html),
    Kind("docx", (".docx",), ".docx (Word)", extract_docx, _is_docx),
    Kind("pdf", (".pdf",), ".pdf (with a text layer)", extract_pdf, _is_pdf),
    Kind("jsonl", (".jsonl",), ".jsonl (one record a line)", jsonl_records, records=True),
    Kind("csv", (".csv",), ".csv (a header row)", csv_records, records=True),
    Kind("parquet", (".parquet",), ".parquet (pyarrow)", parquet_records, records=True),
)
BY_NAME = {kind.name: kind for kind in KINDS}
DOCUMENTS = tuple(kind for kind in KINDS if not kind.records)
SUFFIXES = {suffix: kind.name for kind in DOCUMENTS for suffix in kind.suffixes}  # documents
RECORD_FILES = tuple(suffix for kind in KINDS if kind.records for suffix in kind.suffixes)


def file_records(name: str, stream, text_field: str, id_field: str):
    """The records of a file of records (by its suffix, one of RECORD_FILES), streamed; None
    for any other file."""
    for kind in KINDS:
        if kind.records and _suffix(name) in kind.suffixes:
            return kind.read(stream, name, text_field, id_field)
    return None
