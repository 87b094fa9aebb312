"""`khulasa batch`: many documents in, one JSONL out, nothing lost, nothing duplicated.

Each finished record is appended as one line, flushed and fsynced before the next document is
reported done. The output file is locked while a run writes it, so a second run on the same
file stops at once. A rerun of the same command skips the ids already in the output, after
cutting off a half-written last line left by a crash.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ...models.errors import KhulasaError
from ...models.options import ModelOptions, check_positive
from ...models.reading.bounded import ReadBudget
from ...models.reading.fetch import FetchPolicy
from .inputs import (
    MAX_CHARS,
    Record,
    UsageError,
    check_record,
    fetch_links,
    find_duplicates,
    read_inputs,
    refuse_duplicate_ids,
)

__all__ = ["BatchOptions", "BatchStats", "JsonlOutput", "UsageError", "process_step", "run_batch"]


def check_output_path(path: Path) -> None:
    """UsageError (exit 2) for an output that cannot be a file we append to, before any
    input is read or model loaded."""
    if path.is_dir():
        raise UsageError(
            f"-o {path} is a directory. Fix: name a file, e.g. -o {path / 'results.jsonl'}"
        )
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(
            f"-o {path}: {parent} is a file, not a directory. Fix: choose another output path."
        )
    if not os.access(parent if not path.exists() else path, os.W_OK):
        raise UsageError(f"-o {path}: no permission to write there. Fix: choose a writable place.")


class JsonlOutput:
    """The append-only output file, locked for this run: which ids are done, and one durable
    line per record."""

    def __init__(self, path: Path, dedupe: bool = False):
        self.path = path
        self.done: set[str] = set()
        self.repaired_bytes = 0
        self.removed_duplicates = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _lock(self._fd, path)
            self._load(dedupe)
        except BaseException:
            os.close(self._fd)
            raise

    def _load(self, dedupe: bool) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            # A crash mid-write left a partial last line: cut it off, never parse it.
            self.repaired_bytes = len(data) - end
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        ids, lines = [], []
        for lineno, line in enumerate(data[:end].split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                ids.append(str(json.loads(line)["id"]))
                lines.append(line)
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(
                    f"{self.path} line {lineno} is not a khulasa record ({exc}); it is not a "
                    f"file this command wrote, or it was edited. Fix: pass another -o path, or "
                    f"repair that line."
                ) from exc
        duplicates = find_duplicates(ids)
        if duplicates and not dedupe:
            shown = ", ".join(f"{rid!r} x{n}" for rid, n in list(duplicates.items())[:10])
            raise UsageError(
                f"{self.path} holds {len(duplicates)} ids more than once ({shown}), e.g. from "
                f"two runs that wrote it at the same time before it was locked. Fix: rerun "
                f"with --dedupe to keep the first record of each id."
            )
        if duplicates:
            self._rewrite_first_of_each(ids, lines)
        self.done = set(ids)

    def _rewrite_first_of_each(self, ids: list[str], lines: list[bytes]) -> None:
        """Keep the first line of each id: written to a locked temporary file, fsynced, then
        renamed over the output, so a crash leaves either the old file or the new one."""
        seen: set[str] = set()
        kept = []
        for rid, line in zip(ids, lines, strict=True):
            if rid not in seen:
                seen.add(rid)
                kept.append(line + b"\n")
        tmp = self.path.with_name(f".{self.path.name}.dedupe")
        fd = os.open(tmp, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)
        _lock(fd, tmp)
        os.write(fd, b"".join(kept))
        os.fsync(fd)
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = fd
        self.removed_duplicates = len(lines) - len(kept)

    def append(self, record: dict) -> None:
        try:
            line = json.dumps(record, ensure_ascii=False) + "\n"
            data = line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (an invalid id): JSON-escape it
            data = (json.dumps(record) + "\n").encode("ascii")
        try:
            os.write(self._fd, data)
            os.fsync(self._fd)
        except OSError as exc:
            raise write_error(self.path, exc) from None
        self.done.add(str(record["id"]))

    def close(self) -> None:
        os.close(self._fd)


def _lock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise UsageError(
            f"{path} is locked: another khulasa batch is writing to it. Fix: wait for that run "
            f"to finish (then rerun this command to resume), or choose another -o."
        ) from None


def write_error(path: Path, exc: OSError) -> KhulasaError:
    free = ""
    try:
        free = f"; {shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free there"
    except OSError:
        pass
    fix = (
        "Fix: free some space, then rerun the same command: it resumes where it stopped."
        if exc.errno == errno.ENOSPC
        else "Fix: rerun the same command once the problem is solved: it resumes where it stopped."
    )
    return KhulasaError(f"Could not write to {path}: {exc.strerror or exc}{free}. {fix}")


@dataclass(frozen=True)
class BatchOptions:
    inputs: list[str]
    output: Path
    models: ModelOptions = field(default_factory=ModelOptions)
    summary: bool = True
    text_field: str = "text"
    id_field: str = "id"
    quiet: bool = False
    max_chars: int = MAX_CHARS
    docs_per_step: int = 16  # documents whose sentences share model batches
    dedupe: bool = False
    force: bool = False  # translate records that are not Arabic too (they carry a warning)
    read: ReadBudget = field(default_factory=ReadBudget)  # each document file or link
    fetch: FetchPolicy = field(default_factory=FetchPolicy)  # records that give a url

    def __post_init__(self):
        check_positive("--max-chars", self.max_chars, False)
        check_positive("--batch-docs", self.docs_per_step, False)


@dataclass
class BatchStats:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    sentences: int = 0
    memory_hits: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. the memory was set aside
    to_check: int = 0  # sentences with a trust flag
    flags: dict[str, int] = field(default_factory=dict)  # trust flag -> sentences
    # Seconds from the start of the run to its first record written: the start-up (reading
    # inputs, loading models, and with --engine ray starting Ray and its actors).
    first_record_s: float | None = None
    started: float = field(default_factory=time.perf_counter, repr=False)

    def wrote(self, records: int = 1) -> None:
        if self.first_record_s is None and records:
            self.first_record_s = time.perf_counter() - self.started

    def line(self) -> str:
        notes = "".join(f"; {n}" for n in self.notes)
        counts = ", ".join(f"{f} {n}" for f, n in sorted(self.flags.items()))
        return (
            f"khulasa batch: {self.done} documents done, {self.failed} failed, "
            f"{self.skipped} skipped (already done), {self.sentences} sentences, "
            f"{self.memory_hits} memory hits, {self.seconds:.1f} s; to check: "
            f"{self.to_check} of {self.sentences} sentences ({counts or 'no flags'}){notes}"
        )

    def count(self, trust: dict) -> None:
        self.to_check += trust.get("to_check", 0)
        for flag, n in trust.get("flags", {}).items():
            self.flags[flag] = self.flags.get(flag, 0) + n


def run_batch(opts: BatchOptions, log=None) -> BatchStats:
    """Process every input record not yet in the output. Raises UsageError (exit 2) for a bad
    output path, bad inputs, duplicate ids, a locked or foreign output file; and, like a
    missing model, before the output file is created or any model loads."""
    from ...models.factory import build_pipeline, locate

    log = log or (lambda msg: print(msg, file=sys.stderr))
    stats = BatchStats()
    check_output_path(opts.output)
    with _replayable_stdin(opts.inputs) as stdin:
        # The id pass: every id, no document read (a document file's id is its path).
        ids = [r.id for r in _records(opts, stdin, ids_only=True)]
        refuse_duplicate_ids(ids)
        located = None
        if not opts.output.exists():
            located = locate(opts.models, opts.summary)  # a missing model: before the file
        out = JsonlOutput(opts.output, opts.dedupe)
        try:
            if out.repaired_bytes:
                log(
                    f"khulasa batch: cut off a half-written last line ({out.repaired_bytes} "
                    f"bytes) left in {opts.output} by an earlier run"
                )
            if out.removed_duplicates:
                log(
                    f"khulasa batch: --dedupe removed {out.removed_duplicates} repeated records "
                    f"from {opts.output}, keeping the first of each id"
                )
            todo = sum(1 for rid in ids if rid not in out.done)
            stats.skipped = len(ids) - todo
            del ids
            if todo:
                pipeline = build_pipeline(opts.models, summary=opts.summary, located=located)
                for warning in pipeline.warnings:
                    log(f"khulasa batch: warning: {warning}")
                    stats.notes.append(warning)
                # The translation pass: the inputs streamed again, a step at a time.
                records = (r for r in _records(opts, stdin) if r.id not in out.done)
                _run(pipeline, records, todo, opts, out, stats)
                if pipeline.memory is not None and pipeline.memory.problem:
                    stats.notes.append(pipeline.memory.problem)
        finally:
            out.close()
    stats.seconds = time.perf_counter() - stats.started
    return stats


def _records(opts: BatchOptions, stdin, ids_only: bool = False) -> Iterator[Record]:
    if stdin is not None:
        stdin.seek(0)
    return read_inputs(
        opts.inputs, opts.text_field, opts.id_field, stdin, opts.read, ids_only=ids_only
    )


@contextmanager
def _replayable_stdin(inputs: list[str]):
    """Standard input ('-') copied to a temporary file, so both passes can read it."""
    if "-" not in inputs:
        yield None
        return
    with tempfile.TemporaryFile() as copy:
        shutil.copyfileobj(sys.stdin.buffer, copy)
        yield copy


def _steps(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    step: list[Record] = []
    for r in records:
        step.append(r)
        if len(step) == size:
            yield step
            step = []
    if step:
        yield step


def _run(
    pipeline, records: Iterable[Record], todo: int, opts: BatchOptions, out: JsonlOutput,
    stats: BatchStats,
) -> None:  # fmt: skip
    from tqdm import tqdm

    work_started = time.perf_counter()
    bar = tqdm(total=todo, unit="doc", disable=opts.quiet, file=sys.stderr, dynamic_ncols=True)
    try:
        for step in _steps(records, opts.docs_per_step):
            fetch_links(step, opts.fetch, opts.read)
            step = [check_record(r, opts.max_chars, opts.force) for r in step]
            for line in process_step(pipeline, step, opts.summary):
                out.append(line)
                stats.wrote()
                if "error" in line:
                    stats.failed += 1
                    continue
                stats.done += 1
                doc = line["document"]
                stats.sentences += sum(len(p["segments"]) for p in doc["paragraphs"])
                stats.memory_hits += doc["meta"].get("memory_hits", 0)
                stats.count(doc["meta"].get("trust", {}))
            elapsed = time.perf_counter() - work_started
            bar.update(len(step))
            bar.set_postfix_str(f"{stats.sentences / max(elapsed, 1e-9):.1f} sentences/s")
    finally:
        bar.close()


def process_step(pipeline, step: list[Record], summary: bool) -> list[dict]:
    """Output lines for `step`, in order. Documents share model batches; if the shared run
    fails unexpectedly, each document is retried alone so one bad record fails alone."""
    todo = [r for r in step if r.error is None]
    try:
        results = pipeline.process_many([r.text for r in todo], summary=summary)
    except Exception:
        logging.getLogger("khulasa.batch").exception("shared batch failed; retrying one by one")
        results = [_process_one(pipeline, r, summary) for r in todo]
    by_id = {r.id: res for r, res in zip(todo, results, strict=True)}
    lines = []
    for r in step:
        res = by_id.get(r.id, r.error)
        if isinstance(res, KhulasaError):
            r.error = res
        if r.error is not None:
            lines.append(r.error_line())
        else:
            if r.about:  # what the file or record says of its article
                res.meta["source"] = dict(r.about)
            lines.append({"id": r.id, "source": r.source, "document": res.to_dict()})
    return lines


def _process_one(pipeline, record: Record, summary: bool):
    try:
        return pipeline.process_many([record.text], summary=summary)[0]
    except Exception as exc:  # an unexpected failure of one document becomes its record
        return KhulasaError(f"Processing failed: {type(exc).__name__}: {exc}")
