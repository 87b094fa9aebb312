"""`khulasa batch`'s inputs: every record of every input, in order. Anything unreadable
becomes an error record with a documented code, never an exception and never a silent skip.

Codes: invalid_utf8, invalid_unicode, invalid_id, empty_input, missing_text_field,
invalid_json, invalid_csv, too_long, unreadable; for document files also type_mismatch,
damaged_file, too_large, too_complex (over the reading budget), invalid_encoding, no_article
(a web page without article text) and no_text_layer (a scanned PDF); for records that give a
url instead of text, url_refused and fetch_failed.

Inputs are streamed: JSONL and CSV a line at a time, document files one at a time, each read
in a bounded worker (models/reading/bounded.py), so memory follows the step, not the archive.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ...models.errors import InputError, KhulasaError, OptionError
from ...models.reading.article import file_bytes, read_article
from ...models.reading.bounded import DEFAULT_MEMORY_MB, DEFAULT_SECONDS, ReadBudget
from ...models.reading.extract import RECORD_FILES, SUFFIXES, file_records, kinds_in_words
from ...models.reading.fetch import FetchPolicy
from ...models.reading.records import Record, jsonl_records
from ..admission import check_text

MAX_CHARS = 200_000  # the longest document batch and digest take, by default


class UsageError(OptionError):
    """A problem with the command line or the output file (exit status 2)."""


def inputs_in_words() -> str:
    """What batch and digest read, as their help and errors say it."""
    return (
        f"{kinds_in_words()} files (id = path), directories (recursive, the same kinds), "
        f"{', '.join(RECORD_FILES)} records (id and text fields; optional title, outlet, date), "
        "or - for JSONL on stdin"
    )


def add_input_arguments(parser, too_long: str) -> None:
    """The inputs and options of every command that reads records (batch, digest): the
    JSONL/CSV field names and the longest document; `too_long` says what becomes of a longer
    one."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help=inputs_in_words())
    parser.add_argument("--text-field", default="text", help="JSONL/CSV text field (default: text)")
    parser.add_argument("--id-field", default="id", help="JSONL/CSV id field (default: id)")
    parser.add_argument(
        "--max-chars", type=int, default=MAX_CHARS, help=f"{too_long} (default: {MAX_CHARS})"
    )
    add_reading_arguments(parser, private_urls=True)


def add_reading_arguments(parser, private_urls: bool) -> None:
    """The reading budget of each document file or link (every command that reads them), and
    on the command line the opt-in for intranet links."""
    parser.add_argument(
        "--read-seconds",
        type=float,
        default=DEFAULT_SECONDS,
        metavar="S",
        help="seconds one document file may take to read (a link: its fetch, at most 15 s, "
        f"then this); over it, a too_complex error (default: {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--read-memory",
        type=int,
        default=DEFAULT_MEMORY_MB,
        metavar="MIB",
        help=f"memory one document file may take to read (default: {DEFAULT_MEMORY_MB})",
    )
    if private_urls:
        parser.add_argument(
            "--allow-private-urls",
            action="store_true",
            help="fetch links to private, loopback and site-local addresses (intranet pages); "
            "by default they are refused",
        )


def reading_from_args(args) -> tuple[ReadBudget, FetchPolicy]:
    """The reading budget and the fetch policy the command line asked for."""
    budget = ReadBudget(args.read_seconds, args.read_memory)
    return budget, FetchPolicy(allow_private=getattr(args, "allow_private_urls", False))


def valid_id(record: Record) -> Record:
    """An id that is not valid Unicode (a lone surrogate in JSON, a file name that is not
    UTF-8) makes the record an `invalid_id` error; the output writes the id JSON-escaped
    (`\\udcff`), which reads back as the same string, so a rerun still skips it."""
    try:
        record.id.encode("utf-8")
    except UnicodeEncodeError:
        record.error = InputError(
            f"Record id {ascii(record.id)} is not valid Unicode (a lone surrogate, or a file "
            f"name that is not UTF-8). Fix: give the record a UTF-8 id (or rename the file).",
            "invalid_id",
        )
    return record


def read_inputs(
    inputs: list[str],
    text_field: str,
    id_field: str,
    stdin: BinaryIO | None = None,
    budget: ReadBudget | None = None,
    ids_only: bool = False,
    cancel=None,
) -> Iterator[Record]:
    """Records from every input, in order, streamed: document files (.txt, .html, .docx,
        .pdf), directories (recursive, the same kinds), .jsonl, .csv, .parquet and '-' (JSONL on
        stdin, read once: `stdin` must be seekable to be read again). With `ids_only`, document
        files are not read (their id is their path): the id pass. `cancel` (a threading.Event)
    stops a document being read."""
    for source in list_sources(inputs):
        if source.error is not None:
            yield valid_id(Record(source.name, source.name, error=source.error))
        elif source.name == "-":
            stream = stdin or sys.stdin.buffer
            yield from map(valid_id, jsonl_records(stream, "<stdin>", text_field, id_field))
        else:
            yield from _file_records(source.name, text_field, id_field, budget, ids_only, cancel)


def _file_records(
    name: str, text_field: str, id_field: str, budget: ReadBudget | None, ids_only: bool, cancel
) -> Iterator[Record]:
    """The records of one local input file, read as a stream where its kind allows."""
    path = Path(name)
    if path.suffix.lower() in (".jsonl", ".csv"):
        try:
            stream = path.open("rb")
        except (OSError, RuntimeError) as exc:
            yield valid_id(Record(name, name, error=_unreadable(path, exc)))
            return
        with stream:
            yield from source_records(name, stream, text_field, id_field, budget, ids_only)
        return
    if ids_only and path.suffix.lower() != ".parquet":
        yield valid_id(Record(name, name))
        return
    data = read_file_bytes(path)
    yield from source_records(name, data, text_field, id_field, budget, ids_only, cancel)


@dataclass(frozen=True)
class Source:
    """One input file (or '-'), or a file found unreadable while listing a directory."""

    name: str
    error: KhulasaError | None = None


def list_sources(inputs: list[str], remote=None) -> Iterator[Source]:
    """The files behind `inputs`, in order, directories listed recursively. `remote(spec)`
    lists a URI (s3://...); without it a URI is a usage error. UsageError for a local
    path that does not exist, before anything is read."""
    for spec in inputs:
        if spec == "-":
            yield Source("-")
        elif is_uri(spec):
            if remote is None:
                raise UsageError(
                    f"{spec} is a URI: this command reads files on this machine only "
                    f"(`khulasa batch --engine ray` reads URIs). Fix: copy the files here."
                )
            yield from map(Source, remote(spec))
        elif Path(spec).is_dir():
            for file, problem in _txt_files(Path(spec)):
                yield Source(str(file), problem)
        elif not Path(spec).exists() and not Path(spec).is_symlink():
            raise UsageError(
                f"No such input: {spec}. Fix: check the path (inputs are {inputs_in_words()})."
            )
        else:
            yield Source(spec)


def is_uri(spec: str) -> bool:
    """s3://bucket/key, gs://..., file:///...: a filesystem URI rather than a local path."""
    head, sep, _ = spec.partition("://")
    return bool(sep) and head.isalnum() and len(head) > 1


def source_records(
    name: str,
    data: bytes | BinaryIO | KhulasaError,
    text_field: str,
    id_field: str,
    budget: ReadBudget | None = None,
    ids_only: bool = False,
    cancel=None,
) -> Iterator[Record]:
    """The records of one input file, given its bytes or a binary stream of them (or the
    error reading them): the one parser both engines use, so `--engine ray` gives the same
    records as `--engine local`. With `ids_only`, a document file is not read."""
    if isinstance(data, KhulasaError):
        yield valid_id(Record(name, name, error=data))
        return
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    records = file_records(name, stream, text_field, id_field)
    if records is not None:
        yield from map(valid_id, records)
    elif ids_only:
        yield valid_id(Record(name, name))
    else:
        yield valid_id(_file_record(name, stream.read(), budget, cancel))


def _txt_files(root: Path) -> list[tuple[Path, KhulasaError | None]]:
    """Every document file (*.txt, *.html, *.htm, *.docx, *.pdf) under `root`, sorted by
    path. Linked folders are followed once; a link that
    is broken, loops, or leads back into a folder already read is an `unreadable` error."""
    found: list[tuple[Path, KhulasaError | None]] = []
    seen = {os.path.realpath(root)}

    def unreadable(path: Path, why: str) -> None:
        found.append((path, InputError(f"Cannot read {path}: {why}.", "unreadable")))

    def visit(folder: Path) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            unreadable(folder, exc.strerror or str(exc))
            return
        for entry in entries:
            path = Path(entry.path)
            is_document = path.suffix.lower() in SUFFIXES
            if entry.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    if is_document:
                        unreadable(path, "a broken or looping symbolic link")
                    continue
                if target.is_dir():
                    if str(target) in seen:
                        unreadable(
                            path, "a symbolic link back into a folder already read (a cycle)"
                        )
                    else:
                        seen.add(str(target))
                        visit(path)
                    continue
            if entry.is_dir(follow_symlinks=False):
                seen.add(os.path.realpath(path))
                visit(path)
            elif is_document:
                found.append((path, None))

    visit(root)
    return sorted(found, key=lambda item: str(item[0]))


def read_file_bytes(path: Path) -> bytes | KhulasaError:
    """The bytes of a document file, or its error (article.file_bytes)."""
    try:
        return file_bytes(path)
    except InputError as exc:
        return exc


def _unreadable(path: Path, exc: BaseException) -> InputError:
    why = getattr(exc, "strerror", None) or str(exc)
    return InputError(f"Cannot read {path}: {why}.", "unreadable")


def _file_record(name: str, data: bytes, budget: ReadBudget | None = None, cancel=None) -> Record:
    """A document file as a record whose `about` holds what the file says of its article
    (title, outlet, date, format...), read by read_article under the budget."""
    try:
        article = read_article(data, name, budget, None, cancel)
    except InputError as exc:
        return Record(name, name, error=exc)
    return Record(name, name, text=article.text, about=article.source)


def find_duplicates(ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rid in ids:
        counts[rid] = counts.get(rid, 0) + 1
    return {rid: n for rid, n in counts.items() if n > 1}


def refuse_duplicate_ids(ids: list[str]) -> None:
    """UsageError (exit 2) naming the ids that occur more than once: records are resumed by
    id, so a duplicate would be skipped, or written twice."""
    duplicates = find_duplicates(ids)
    if duplicates:
        shown = ", ".join(f"{rid!r} x{n}" for rid, n in list(duplicates.items())[:10])
        raise UsageError(
            f"{len(duplicates)} ids occur more than once in the input ({shown}). "
            f"Records are resumed by id, so ids must be unique. Fix: make them "
            f"unique, or name another field with --id-field."
        )


def check_record(record: Record, max_chars: int, force: bool = False) -> Record:
    """Turn empty, over-long or (without `force`) non-Arabic text into an error record before
    any model sees it (the one way in's checks, in batch's words)."""
    if record.error is None and record.text is not None:
        try:
            check_text(record.text, max_chars, force=force, where=f"Record {record.id}",
                       fix_long="raise --max-chars or split the document.",
                       fix_empty="give it the article's text.",
                       fix_arabic="Fix: pass --force to translate it anyway.")  # fmt: skip
        except InputError as exc:
            record.error = exc
    return record


def fetch_links(
    records: list[Record], policy: FetchPolicy | None = None, budget: ReadBudget | None = None
) -> None:
    """Fetch the records that give a `url` instead of text (under the fetch guard and the
    reading budget): each gets its article's text and what the page says of it, or its error
    (`url_refused`, `fetch_failed`, `too_large`, `too_complex`, `no_article`...)."""
    for r in records:
        if r.error is not None or r.text is not None or r.url is None:
            continue
        try:
            article = read_article(r.url, "", budget, policy)
        except InputError as exc:
            r.error = exc
            continue
        r.text, r.about = article.text, {**article.source, **r.about}
