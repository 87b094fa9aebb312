"""`khulasa batch`: many documents in, one JSONL out, nothing lost, nothing duplicated.

Each finished record is appended as one line, flushed and fsynced before the next document is
reported done. A rerun of the same command skips the ids already in the output, after cutting
off a half-written last line left by a crash.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from models.errors import InputError, KhulasaError
from models.text import decode_utf8, normalize

CSV_FIELD_LIMIT = 10_000_000  # csv's default 128 KiB field limit is too small for articles


@dataclass
class Record:
    id: str
    source: str  # the file or stream it came from
    text: str | None = None
    error: KhulasaError | None = None

    def error_line(self) -> dict:
        err = self.error
        return {"id": self.id, "source": self.source,
                "error": {"code": getattr(err, "code", "error"), "message": str(err)}}


class UsageError(Exception):
    """A problem with the command line or the output file (exit status 2)."""


def read_inputs(inputs: list[str], text_field: str, id_field: str,
                stdin: io.BufferedReader | None = None) -> Iterator[Record]:
    """Records from every input, in order: .txt files, directories (recursive *.txt), .jsonl,
    .csv and '-' (JSONL on stdin). Unreadable parts become error records, never exceptions."""
    for spec in inputs:
        if spec == "-":
            data = (stdin or sys.stdin.buffer).read()
            yield from _jsonl_records(data, "<stdin>", text_field, id_field)
            continue
        path = Path(spec)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*.txt") if p.is_file()):
                yield _txt_record(file)
        elif not path.exists():
            raise UsageError(f"No such input: {spec}. Fix: check the path (inputs are .txt, "
                             f".jsonl, .csv files, directories, or - for JSONL on stdin).")
        elif path.suffix.lower() == ".jsonl":
            data = _read_bytes(path)
            if isinstance(data, KhulasaError):
                yield Record(str(path), str(path), error=data)
            else:
                yield from _jsonl_records(data, str(path), text_field, id_field)
        elif path.suffix.lower() == ".csv":
            yield from _csv_records(path, text_field, id_field)
        else:
            yield _txt_record(path)


def _read_bytes(path: Path) -> bytes | KhulasaError:
    try:
        return path.read_bytes()
    except OSError as exc:
        return InputError(f"Cannot read {path}: {exc.strerror}.", "unreadable")


def _txt_record(path: Path) -> Record:
    data = _read_bytes(path)
    if isinstance(data, KhulasaError):
        return Record(str(path), str(path), error=data)
    try:
        return Record(str(path), str(path), text=decode_utf8(data, str(path)))
    except InputError as exc:
        return Record(str(path), str(path), error=exc)


def _from_fields(obj: dict, where: str, fallback_id: str, text_field: str,
                 id_field: str) -> Record:
    raw_id = obj.get(id_field)
    rid = fallback_id if raw_id in (None, "") else str(raw_id)
    text = obj.get(text_field)
    if not isinstance(text, str):
        problem = "has no" if text is None else "has a non-text"
        return Record(rid, where, error=InputError(
            f"Record {rid} {problem} {text_field!r} field. Fix: name the text field with "
            f"--text-field (fields here: {', '.join(map(str, obj)) or 'none'}).",
            "missing_text_field"))
    return Record(rid, where, text=text)


def _jsonl_records(data: bytes, where: str, text_field: str, id_field: str) -> Iterator[Record]:
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        fallback = f"{where}:{lineno}"
        try:
            obj = json.loads(decode_utf8(raw, f"{where} line {lineno}"))
        except InputError as exc:
            yield Record(fallback, where, error=exc)
            continue
        except json.JSONDecodeError as exc:
            yield Record(fallback, where, error=InputError(
                f"{where} line {lineno} is not valid JSON ({exc.msg}).", "invalid_json"))
            continue
        if not isinstance(obj, dict):
            yield Record(fallback, where, error=InputError(
                f"{where} line {lineno} is not a JSON object.", "invalid_json"))
            continue
        yield _from_fields(obj, where, fallback, text_field, id_field)


def _csv_records(path: Path, text_field: str, id_field: str) -> Iterator[Record]:
    data = _read_bytes(path)
    if isinstance(data, KhulasaError):
        yield Record(str(path), str(path), error=data)
        return
    try:
        text = decode_utf8(data, str(path))
    except InputError as exc:
        yield Record(str(path), str(path), error=exc)
        return
    csv.field_size_limit(CSV_FIELD_LIMIT)
    for rowno, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
        yield _from_fields(row, str(path), f"{path}:{rowno}", text_field, id_field)


class JsonlOutput:
    """The append-only output file: which ids are done, and one durable line per record."""

    def __init__(self, path: Path):
        self.path = path
        self.done: set[str] = set()
        self.repaired_bytes = 0
        if path.exists():
            self._load()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")

    def _load(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            # A crash mid-write left a partial last line: cut it off, never parse it.
            self.repaired_bytes = len(data) - end
            with open(self.path, "r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        for lineno, line in enumerate(data[:end].split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                self.done.add(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(
                    f"{self.path} line {lineno} is not a khulasa record ({exc}); it is not a "
                    f"file this command wrote, or it was edited. Fix: pass another -o path, or "
                    f"repair that line.") from exc

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self._file.write(line.encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done.add(str(record["id"]))

    def close(self) -> None:
        self._file.close()


def find_duplicates(records: list[Record]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.id] = counts.get(r.id, 0) + 1
    return {rid: n for rid, n in counts.items() if n > 1}


def check_text(record: Record, max_chars: int) -> Record:
    """Turn empty or over-long text into an error record before any model sees it."""
    if record.error is None and record.text is not None:
        if not normalize(record.text):
            record.error = InputError(f"Record {record.id} has no text.", "empty_input")
        elif len(record.text) > max_chars:
            record.error = InputError(
                f"Record {record.id} has {len(record.text):,} characters, over --max-chars "
                f"{max_chars:,}. Fix: raise --max-chars or split the document.", "too_long")
    return record


@dataclass(frozen=True)
class BatchOptions:
    inputs: list[str]
    output: Path
    translator: str
    summarizer: str
    summary: bool = True
    beams: int | None = None
    device: str = "auto"
    backend: str = "auto"
    text_field: str = "text"
    id_field: str = "id"
    memory: Path | None = None  # None: no sentence memory
    quiet: bool = False
    max_chars: int = 200_000
    docs_per_step: int = 16  # documents whose sentences share model batches


@dataclass
class BatchStats:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    sentences: int = 0
    memory_hits: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"khulasa batch: {self.done} documents done, {self.failed} failed, "
                f"{self.skipped} skipped (already done), {self.sentences} sentences, "
                f"{self.memory_hits} memory hits, {self.seconds:.1f} s")


def run_batch(opts: BatchOptions, log=None) -> BatchStats:
    """Process every input record not yet in the output. Raises UsageError (exit 2) for bad
    inputs, duplicate ids or a foreign output file, before any model loads."""
    import time

    from tqdm import tqdm

    from models.api import load_pipeline
    from models.memory import MemoryTranslator, SentenceMemory

    log = log or (lambda msg: print(msg, file=sys.stderr))
    started = time.perf_counter()
    records = list(read_inputs(opts.inputs, opts.text_field, opts.id_field))
    duplicates = find_duplicates(records)
    if duplicates:
        shown = ", ".join(f"{rid!r} x{n}" for rid, n in list(duplicates.items())[:10])
        raise UsageError(f"{len(duplicates)} ids occur more than once in the input ({shown}). "
                         f"Records are resumed by id, so ids must be unique. Fix: make them "
                         f"unique, or name another field with --id-field.")
    out = JsonlOutput(opts.output)
    if out.repaired_bytes:
        log(f"khulasa batch: cut off a half-written last line ({out.repaired_bytes} bytes) "
            f"left in {opts.output} by an earlier run")
    todo = [r for r in records if r.id not in out.done]
    stats = BatchStats(skipped=len(records) - len(todo))
    try:
        if todo:
            pipeline = load_pipeline(opts.translator, opts.summarizer if opts.summary else "none",
                                     opts.beams, opts.device, backend=opts.backend)
            if opts.memory is not None:
                pipeline.translator = MemoryTranslator(pipeline.translator,
                                                       SentenceMemory(opts.memory))
            work_started = time.perf_counter()
            bar = tqdm(total=len(todo), unit="doc", disable=opts.quiet, file=sys.stderr,
                       dynamic_ncols=True)
            for start in range(0, len(todo), opts.docs_per_step):
                step = [check_text(r, opts.max_chars)
                        for r in todo[start:start + opts.docs_per_step]]
                for line in _process_step(pipeline, step, opts):
                    out.append(line)
                    if "error" in line:
                        stats.failed += 1
                    else:
                        stats.done += 1
                        stats.sentences += sum(len(p["segments"])
                                               for p in line["document"]["paragraphs"])
                elapsed = time.perf_counter() - work_started
                bar.update(len(step))
                bar.set_postfix_str(f"{stats.sentences / max(elapsed, 1e-9):.1f} sentences/s")
            bar.close()
            stats.memory_hits = getattr(pipeline.translator, "hits", 0)
    finally:
        out.close()
    stats.seconds = time.perf_counter() - started
    return stats


def _process_step(pipeline, step: list[Record], opts: BatchOptions) -> list[dict]:
    """Output lines for `step`, in order. Documents share model batches; if the shared run
    fails unexpectedly, each document is retried alone so one bad record fails alone."""
    import logging

    todo = [r for r in step if r.error is None]
    try:
        results = pipeline.process_many([r.text for r in todo], summary=opts.summary)
    except Exception:
        logging.getLogger("khulasa.batch").exception("shared batch failed; retrying one by one")
        results = [_process_one(pipeline, r, opts) for r in todo]
    by_id = {r.id: res for r, res in zip(todo, results, strict=True)}
    lines = []
    for r in step:
        res = by_id.get(r.id, r.error)
        if isinstance(res, KhulasaError):
            r.error = res
        if r.error is not None:
            lines.append(r.error_line())
        else:
            lines.append({"id": r.id, "source": r.source, "document": res.to_dict()})
    return lines


def _process_one(pipeline, record: Record, opts: BatchOptions):
    try:
        return pipeline.process_many([record.text], summary=opts.summary)[0]
    except Exception as exc:  # an unexpected failure of one document becomes its record
        return KhulasaError(f"Processing failed: {type(exc).__name__}: {exc}")
