"""The one way in: what every door takes an input through before any model sees it.

- `check_text` (models/text.py, so the digest's library calls it too): the checks on a text,
  in one order (valid Unicode, too long, empty, not Arabic), with one code each; the page, its
  API, REST, the command line, batch and the digest call it, each with its own words for
  the fix.
- `Tally`: documents and characters counted **as they arrive**, against an `Allowance` (how
  many documents, how many characters each and in all): a request that brings too many is
  refused before the next one is read, never after all were read.
- `read_records`: a file of records (.jsonl, .csv, .parquet) read in a bounded worker
  (models/reading/bounded.py) that stops at the allowance, so a small file whose rows expand
  (a 496-byte Parquet file of 6,000 long rows) costs the budget at most, never the server.

Codes: invalid_unicode, empty_input, too_long, not_arabic, too_many_documents, and those of
the readers (bounded.py, extract.py, fetch.py).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

from ..models.errors import InputError
from ..models.reading.bounded import ReadBudget, run_bounded
from ..models.reading.extract import file_records
from ..models.reading.records import Record
from ..models.text import check_text

__all__ = ["Allowance", "Tally", "check_text", "read_records"]


@dataclass(frozen=True)
class Allowance:
    """What one request may bring: `max_docs` documents of at most `max_chars` characters
    each and `max_total` in all (None: no limit), each file read within `budget`."""

    max_docs: int = 1
    max_chars: int = 20_000
    max_total: int | None = None
    budget: ReadBudget = field(default_factory=ReadBudget)


class Tally:
    """Documents and characters taken so far for one request, against its `Allowance`."""

    def __init__(self, allowance: Allowance):
        self.allowance = allowance
        self.docs = 0
        self.chars = 0

    def expect(self, docs: int) -> None:
        """Refuse at once (`too_many_documents`) when `docs` more would be too many: called
        with what is known before reading (the files sent), so nothing is read in vain."""
        most = self.allowance.max_docs
        if self.docs + docs > most:
            raise InputError(
                f"{self.docs + docs} documents; at most {most} here. Fix: leave some out, or "
                "split the coverage.",
                "too_many_documents",
            )

    def take(self, chars: int, docs: int = 1) -> None:
        """Count what was read; refuse (`too_many_documents`, `too_long`) past the
        allowance."""
        self.expect(docs)
        self.docs += docs
        self.chars += chars
        total = self.allowance.max_total
        if total is not None and self.chars > total:
            raise InputError(
                f"The documents hold more than {total:,} characters together (the limit "
                "here). Fix: leave some out, or split the coverage.",
                "too_long",
            )

    def room(self) -> tuple[int, int | None]:
        """Documents and characters (None: no limit) that may still come."""
        total = self.allowance.max_total
        return self.allowance.max_docs - self.docs, None if total is None else total - self.chars


def read_records(
    data: bytes,
    name: str,
    tally: Tally,
    fields: tuple[str, str] = ("text", "id"),
    cancel: threading.Event | None = None,
) -> list[Record]:
    """The records of a .jsonl, .csv or .parquet file's bytes, read in a bounded worker that
    stops (and refuses the request) as soon as they pass what `tally` still has room for; the
    records are then counted into `tally`."""
    docs, chars = tally.room()
    allowance = tally.allowance
    args = (data, name, fields, docs, chars, allowance.max_chars)
    records = run_bounded(_records_within, args, name, allowance.budget, cancel)
    tally.take(sum(len(r.text or "") for r in records), len(records))
    return records


def _records_within(
    data: bytes, name: str, fields: tuple[str, str], docs: int, chars: int | None, each: int
) -> list[Record]:
    """In the worker: the file's records, stopping past `docs` records or `chars` characters;
    a record over `each` characters is that record's `too_long` error, its text not kept."""
    out: list[Record] = []
    total = 0
    for record in file_records(name, io.BytesIO(data), *fields) or ():
        if record.text is not None and len(record.text) > each:
            record.error = InputError(
                f"Record {record.id} has {len(record.text):,} characters; the limit here is "
                f"{each:,}.",
                "too_long",
            )
            record.text = None
        total += len(record.text or "")
        out.append(record)
        if len(out) > docs:
            raise InputError(
                f"{name} holds more than {docs} records; at most {docs} more documents here. "
                "Fix: leave some out, or split the coverage.",
                "too_many_documents",
            )
        if chars is not None and total > chars:
            raise InputError(
                f"{name}'s records hold more than {chars:,} characters, more than the limit "
                "here leaves. Fix: leave some out, or split the coverage.",
                "too_long",
            )
    return out
