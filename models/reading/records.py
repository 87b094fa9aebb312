"""Records: one article each, with its id, where it came from and its text (or its error),
and the files that hold many of them: JSONL a line at a time, CSV a row at a time, Parquet.
A line or row that cannot be read is an error record with its code, and the next one is read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import InputError, KhulasaError
from ..text import check_unicode, decode_utf8, is_link

ABOUT_FIELDS = ("title", "outlet", "date", "url")
PARQUET_ROWS = 64  # rows of a Parquet file decoded at once
CSV_FIELD_LIMIT = 10_000_000  # csv's default 128 KiB field limit is too small for articles


@dataclass
class Record:
    id: str
    source: str  # the file or stream it came from
    text: str | None = None
    error: KhulasaError | None = None
    # What a JSONL/CSV record says of its article (title, outlet, date, url), when it does.
    about: dict = field(default_factory=dict)
    url: str | None = None  # a record that gives a link instead of its text: fetched later

    def error_line(self) -> dict:
        err = self.error
        return {
            "id": self.id,
            "source": self.source,
            "error": {"code": getattr(err, "code", "error"), "message": str(err)},
        }


def _from_fields(obj: dict, where: str, fallback_id: str, text_field: str, id_field: str) -> Record:
    raw_id = obj.get(id_field)
    try:
        rid = fallback_id if raw_id in (None, "") else str(raw_id)
    except ValueError:  # an integer too long to write out (Python's 4,300-digit limit)
        return Record(
            fallback_id,
            where,
            error=InputError(
                f"Record {fallback_id}'s {id_field!r} is a number too long to be an id. Fix: "
                f"give it a shorter id, or a string.",
                "invalid_id",
            ),
        )
    text = obj.get(text_field)
    link = obj.get("url")
    if text is None and isinstance(link, str) and is_link(link):
        return Record(rid, where, url=link.strip(), about={"url": link.strip()})
    if not isinstance(text, str):
        problem = "has no" if text is None else "has a non-text"
        return Record(
            rid,
            where,
            error=InputError(
                f"Record {rid} {problem} {text_field!r} field. Fix: name the text field with "
                f"--text-field (fields here: {', '.join(map(str, obj)) or 'none'}).",
                "missing_text_field",
            ),
        )
    try:
        check_unicode(text, f"Record {ascii(rid)}'s text")
    except InputError as exc:
        return Record(rid, where, error=exc)
    about = {k: obj[k] for k in ABOUT_FIELDS if _plain_text(obj.get(k))}
    return Record(rid, where, text=text, about=about)


def _plain_text(value) -> bool:
    """A non-empty string that is valid Unicode (kept as what a record says of its article)."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def jsonl_records(stream: BinaryIO, where: str, text_field: str, id_field: str) -> Iterator[Record]:
    for lineno, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        fallback = f"{where}:{lineno}"
        try:
            obj = json.loads(decode_utf8(raw.rstrip(b"\r\n"), f"{where} line {lineno}"))
        except InputError as exc:
            yield Record(fallback, where, error=exc)
            continue
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, a 5,000-digit number
            why = getattr(exc, "msg", None) or (
                "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
            )
            yield Record(
                fallback,
                where,
                error=InputError(
                    f"{where} line {lineno} is not valid JSON ({why}).", "invalid_json"
                ),
            )
            continue
        if not isinstance(obj, dict):
            yield Record(
                fallback,
                where,
                error=InputError(f"{where} line {lineno} is not a JSON object.", "invalid_json"),
            )
            continue
        yield _from_fields(obj, where, fallback, text_field, id_field)


def csv_records(stream: BinaryIO, where: str, text_field: str, id_field: str) -> Iterator[Record]:
    """Rows of a CSV file, streamed. A row the csv module cannot read (a field over its limit)
    is an `invalid_csv` record and the next row is read; a quote left open is reported where
    it opens (strict parsing), never merged with the rows after it."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.DictReader(text, strict=True)
    rowno = 1
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            problem = InputError(
                f"{where} is not valid UTF-8 (near line {start}: {exc.reason}). Fix: save it "
                f"as UTF-8.",
                "invalid_utf8",
            )
            yield Record(f"{where}:{rowno + 1}" if rowno > 1 else where, where, error=problem)
            return
        except csv.Error as exc:
            rowno += 1
            ended = "unexpected end of data" in str(exc)
            why = f"a quotation mark opened on line {start} is never closed" if ended else str(exc)
            yield Record(
                f"{where}:{rowno}",
                where,
                error=InputError(
                    f"{where} row {rowno} (line {start}) is not valid CSV ({why}). Fix: "
                    f"quote the field again, or double the quotation marks inside it.",
                    "invalid_csv",
                ),
            )
            if ended:
                return
            continue
        rowno += 1
        yield _from_fields(row, where, f"{where}:{rowno}", text_field, id_field)


def parquet_records(
    data: bytes | BinaryIO, where: str, text_field: str, id_field: str
) -> Iterator[Record]:
    """Rows of a Parquet file, read PARQUET_ROWS at a time (pyarrow: the `ray` extra), so a
    caller that counts what it takes can stop before a small file's rows add up. A file that
    is not Parquet, or breaks part-way, is an `unreadable` record where it breaks."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        yield Record(
            where,
            where,
            error=InputError(
                f"{where} is Parquet, which needs pyarrow. Fix: pip install -e '.[ray]' "
                f"(or pip install pyarrow).",
                "unreadable",
            ),
        )
        return
    rowno = 0
    data = data if isinstance(data, (bytes, bytearray)) else data.read()
    try:
        # The text and id columns stay dictionary-encoded as they are read: a dictionary
        # page of one long text repeated over many rows is decoded once, not once a row.
        names = pq.ParquetFile(pa.BufferReader(data)).schema_arrow.names
        kept = [f for f in (text_field, id_field) if f in names]
        file = pq.ParquetFile(pa.BufferReader(data), read_dictionary=kept)
        for batch in file.iter_batches(batch_size=PARQUET_ROWS):
            for row in batch.to_pylist():
                rowno += 1
                yield _from_fields(row, where, f"{where}:{rowno}", text_field, id_field)
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as exc:
        why = InputError(
            f"Cannot read {where} as Parquet: {str(exc)[:200]}. Fix: write it again with a "
            f"Parquet writer (pyarrow, pandas), or send JSONL.",
            "unreadable",
        )
        yield Record(where if rowno == 0 else f"{where}:{rowno + 1}", where, error=why)
