"""Reading an article, the one way every door does it (the command line, the page, REST, batch
and the digest): `read_article(source)` takes a file on this machine, a file's bytes (an
upload, a record of an archive) or a link, and gives an `Article`: its text, its paragraphs,
what its file or page says of it (one set of names: title, outlet, date, author, url, format,
encoding, notes) and its kind. Every read runs under the reading budget (bounded.py); every
refusal is an InputError naming the fix.

`KINDS` (extract.py) is the one table of input kinds, documents and files of records: help
texts, upload widgets, REST's supportedFilesFormat and errors read it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..text import split_paragraphs
from .bounded import ReadBudget, read_bytes, read_link
from .extract import KINDS, MAX_BYTES, Extracted
from .fetch import FetchPolicy

__all__ = ["KINDS", "Article", "file_bytes", "read_article"]


@dataclass
class Article:
    """An article as read: its text, its kind (txt, html, docx or pdf; `text` for text given
    as text), and `source`, what its file or page says of it (`Document.meta.source`)."""

    text: str
    kind: str = "text"
    source: dict = field(default_factory=dict)

    @property
    def paragraphs(self) -> list[str]:
        """Blocks separated by blank lines (the pipeline's own paragraphs)."""
        return split_paragraphs(self.text)

    @classmethod
    def of(cls, found: Extracted) -> Article:
        return cls(found.text, found.format, found.about())


def read_article(
    source: str | Path | bytes,
    name: str = "",
    budget: ReadBudget | None = None,
    policy: FetchPolicy | None = None,
    cancel: threading.Event | None = None,
    max_chars: int | None = None,
) -> Article:
    """The article at `source`: a link (a str: fetched under `policy`, which takes http and
    https only, so a visitor's `file:` link is refused, never read from disk), a file on this
    machine (a Path), or a file's bytes. `name` is what messages call the file (an upload's
    own name, never the server's path to it); its type has to agree with the content. Read
    within `budget`; `cancel` stops the read; a text over `max_chars` is refused where it
    is read (`too_long`), never carried back whole."""
    if isinstance(source, str):
        return Article.of(read_link(source.strip(), policy, budget, cancel, max_chars))
    if isinstance(source, Path):
        name = name or str(source)
        source = file_bytes(source, name)
    return Article.of(read_bytes(source, name, None, budget, cancel, max_chars))


def file_bytes(path: Path, name: str = "") -> bytes:
    """The bytes of a document file, or InputError: a directory, over MAX_BYTES (refused
    before it is read), or unreadable (not there, a link that dangles or loops...)."""
    where = name or str(path)
    try:
        if path.is_dir():
            raise InputError(f"{where} is a directory, not a document file.", "is_directory")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(
                f"{where} is {size / 2**20:.1f} MiB; the limit is {MAX_BYTES // 2**20} MiB.",
                "too_large",
            )
        return path.read_bytes()
    except (OSError, RuntimeError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"Cannot read {where}: {why}.", "unreadable") from None
