"""`POST /translate_file` and `GET /download_file/{name}`, as LibreTranslate 1.9 has them: a
multipart `file` (with `source`, `target`, `api_key`) in, `{"translatedFileUrl"}` out, naming
the translated file in the same format: .txt as text, .html with its markup kept, .docx with
its paragraphs, tables and styles kept; a .pdf comes back as a .docx of its paragraphs (a PDF
cannot be rewritten in place). Same keys, rate and character limit as /translate; the file is
checked by its bytes (extract.py's bounds: size, zip bombs, pages); downloads expire like the
page's (`--keep-downloads`) and go with the server.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ...models.errors import InputError
from ...models.reading.article import read_article
from ...models.reading.bounded import run_bounded
from ...models.reading.extract import DOCUMENTS, SUFFIXES, checked_kind
from ...models.text import check_text, detect_language, split_paragraphs
from ..service import SOURCES, translate_texts
from .markup import split_html, translate_html

FORMATS = [kind.name for kind in DOCUMENTS]  # what /translate_file rewrites
NAME = re.compile(r"^[0-9a-f]{32}\.[A-Za-z0-9._-]{1,120}$")
Translate = Callable[[list[str]], list[str]]


def check_upload(upload, data: bytes) -> tuple[str, str]:
    """(kind, file name) of an upload that may be read, or InputError (400): its name, its
    type and its bytes' kind, all checked before any wait (nothing here parses the file)."""
    name = Path(getattr(upload, "filename", "") or "").name
    if not name:
        raise InputError("Invalid request: missing file parameter", "invalid_request")
    if SUFFIXES.get(Path(name).suffix.lower()) is None:
        raise InputError(
            f"Invalid request: {Path(name).suffix or 'a file without a type'} is not "
            f"supported; send one of {', '.join('.' + f for f in FORMATS)}",
            "unsupported_format",
        )
    return checked_kind(data, name), name  # the bytes must be what the name says


def read_upload(data: bytes, kind: str, name: str, char_limit: int, budget, cancel) -> str:
    """The upload's text (a web page: all its text, as it is translated whole with its
    markup), read in a bounded worker; InputError (400) when it cannot be read or is over
    the limit."""
    try:
        if kind == "html":  # the whole page is translated, markup kept: count all its text
            html = data.decode("utf-8", errors="replace")
            text = run_bounded(_markup_text, (html, char_limit), name, budget, cancel)
        else:
            text = read_article(data, name, budget, None, cancel, char_limit).text
        # The one way in's checks; English passes through, as /translate does.
        return check_text(text, char_limit, force=True, where=name,
                          fix_empty="send a file with the article's text.")  # fmt: skip
    except InputError as exc:  # refused in the worker: LibreTranslate's words for it
        if exc.code != "too_long":
            raise
        raise InputError(
            f"Invalid request: {name} exceeds text limit ({char_limit})", "too_long"
        ) from None


def _markup_text(html: str, char_limit: int) -> str:
    """In the reading worker: the page's text, refused past `char_limit` characters there."""
    text = "".join(content for part, content in split_html(html) if part == "text")
    if len(text) > char_limit:
        raise InputError(f"{len(text)} characters", "too_long")
    return text


def translate_file(data: bytes, kind: str, text: str, translate: Translate):
    """The translated file and its extension (`text`: what read_upload found)."""
    if kind == "txt":
        return "\n\n".join(translate(split_paragraphs(text))).encode("utf-8"), "txt"
    if kind == "html":
        html = data.decode("utf-8", errors="replace")
        return translate_html(html, translate).encode("utf-8"), "html"
    if kind == "docx":
        return translate_docx(data, translate), "docx"
    return _new_docx(translate(split_paragraphs(text))), "docx"


def translate_docx(data: bytes, translate: Translate) -> bytes:
    """A Word file with every paragraph (body and tables) in English, in one batch: each
    paragraph's first run takes the English and keeps its formatting, the others are
    emptied; right-to-left marks are removed so the English reads left to right."""
    import docx
    from docx.oxml.ns import qn

    document = docx.Document(io.BytesIO(data))
    seen, paragraphs = set(), []
    cells = (c for t in document.tables for row in t.rows for c in row.cells)
    for p in [*document.paragraphs, *(p for c in cells for p in c.paragraphs)]:
        if id(p._p) not in seen and p.text.strip():  # merged cells repeat their paragraphs
            seen.add(id(p._p))
            paragraphs.append(p)
    english = translate([p.text for p in paragraphs])
    for p, en in zip(paragraphs, english, strict=True):
        runs = p.runs
        if runs:
            runs[0].text = en
            for r in runs[1:]:
                r.text = ""
        else:
            p.add_run(en)
        for el in p._p.iter(qn("w:bidi"), qn("w:rtl")):
            el.getparent().remove(el)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _new_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


class FileDownloads:
    """Translated files for /download_file: one folder, each file named by a random id,
    refused after `keep` seconds and deleted by the server's sweep (server.Downloads)."""

    def __init__(self, root: Path, keep: int):
        self.folder = root / "files"
        self.keep = keep

    def save(self, data: bytes, stem: str, ext: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")[:80] or "translation"
        name = f"{uuid.uuid4().hex}.{safe}.{ext}"
        (self.folder / name).write_bytes(data)
        return name

    def path(self, name: str) -> Path | None:
        if not NAME.match(name):
            return None
        path = self.folder / name
        if not path.is_file() or time.time() - path.stat().st_mtime > self.keep:
            return None
        return path


def file_job(params: dict, upload, data: bytes, options, pool, files: FileDownloads, base: str):
    """Check a /translate_file request now (400s before any wait); the work to run in its
    turn (`run(cancel)`): the file read in a bounded worker, then translated and saved, with
    its URL as the answer."""
    source, target = params.get("source", "auto"), params.get("target", "en")
    if source not in SOURCES or target != "en":
        raise InputError(
            f"Invalid request: {source} -> {target} is not supported: ar (or auto) -> en",
            "invalid_request",
        )
    kind, name = check_upload(upload, data)

    def english(parts: list[str]) -> list[str]:
        src = [detect_language(t)["language"] if source == "auto" else source for t in parts]
        return translate_texts(pool, parts, src)[0]

    def run(cancel) -> dict:
        text = read_upload(data, kind, name, options.char_limit, options.read, cancel)
        out, ext = translate_file(data, kind, text, english)
        saved = files.save(out, Path(name).stem, ext)
        return {"translatedFileUrl": f"{base}download_file/{saved}"}

    return run
