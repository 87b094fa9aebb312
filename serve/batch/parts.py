"""`khulasa batch --engine ray`'s output: a directory of part files, one per batch of records.

A part is written whole under a temporary name, fsynced, then renamed (on an object store,
where a rename is a copy, it is uploaded under its final name: an object appears whole or not
at all). So a crash never leaves half a part where a rerun reads. A part's name is a hash of
its records' ids, so when Ray retries a batch the retry replaces the same part instead of
adding a second copy. A rerun reads the ids already present and skips them; both at the start
and at the end of a run, an id found in two parts (a retry that batched records differently,
or a worker still writing when its driver was killed) is kept in the first part only.

JSONL parts hold today's `khulasa batch` lines (`id`, `source`, `document` or `error`);
Parquet parts hold the columns `id`, `source`, `document` and `error`, the last two as JSON
text (null where absent).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import uuid
from pathlib import Path

from ...models.errors import KhulasaError
from .inputs import UsageError, is_uri

FORMATS = ("jsonl", "parquet")
LOCK_NAME = ".khulasa-batch.lock"
RUN_NAME = ".khulasa-batch.run"  # the id of the run now writing here


class StaleRun(KhulasaError):
    """A worker of a run whose driver died, after a rerun took the output over."""


def id_key(rid: str) -> str:
    """An id as text that every format can hold: lone surrogates (an `invalid_id` record)
    escaped as \\udcff. Ids are compared, and Parquet parts store them, in this form."""
    return rid.encode("utf-8", "backslashreplace").decode("utf-8")


def part_name(keys: list[str], fmt: str) -> str:
    digest = hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()[:24]
    return f"part-{digest}.{fmt}"


def encode_part(lines: list[dict], fmt: str) -> bytes:
    if fmt == "jsonl":
        out = []
        for line in lines:
            try:
                out.append((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
            except UnicodeEncodeError:  # a lone surrogate (an invalid id): JSON-escape it
                out.append((json.dumps(line) + "\n").encode("ascii"))
        return b"".join(out)
    import pyarrow as pa
    import pyarrow.parquet as pq

    def as_json(line: dict, field: str) -> str | None:
        return json.dumps(line[field], ensure_ascii=False) if field in line else None

    table = pa.table(
        {
            "id": [id_key(line["id"]) for line in lines],
            "source": [id_key(line["source"]) for line in lines],
            "document": [as_json(line, "document") for line in lines],
            "error": [as_json(line, "error") for line in lines],
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def part_keys(data: bytes, name: str) -> list[str]:
    """The ids (as `id_key`) of one part, in order."""
    if name.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        ids = pq.read_table(pa.BufferReader(data), columns=["id"])["id"].to_pylist()
        return [id_key(v) for v in ids]
    return [id_key(str(json.loads(line)["id"])) for line in data.splitlines() if line.strip()]


class PartStore:
    """The part files under `root`, a local directory or a filesystem URI (s3://, gs://,
    file://...) that pyarrow opens. Used by the driver and by every worker."""

    def __init__(self, root: str, run_id: str | None = None):
        self.root = root
        self.run_id = run_id  # a worker's: parts are written only while this run owns root
        self.remote = is_uri(root)
        if self.remote:
            from pyarrow import fs

            self._fs, self._base = fs.FileSystem.from_uri(root)

    def names(self) -> list[str]:
        if not self.remote:
            return sorted(n for n in os.listdir(self.root) if n.startswith("part-"))
        from pyarrow import fs

        infos = self._fs.get_file_info(fs.FileSelector(self._base, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.base_name.startswith("part-") and i.is_file)

    def read(self, name: str) -> bytes:
        if not self.remote:
            return Path(self.root, name).read_bytes()
        with self._fs.open_input_stream(f"{self._base}/{name}") as f:
            return f.read()

    def write(self, name: str, data: bytes) -> None:
        """`data` as part `name`, appearing whole or not at all. A worker whose run no longer
        owns the output (its driver was killed and a rerun started) writes nothing."""
        if self.run_id is not None and self.read(RUN_NAME).decode() != self.run_id:
            raise StaleRun(f"{self.root} is now written by another run; this worker stops.")
        if self.remote:
            with self._fs.open_output_stream(f"{self._base}/{name}") as f:
                f.write(data)
            return
        tmp = Path(self.root, f".{name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, Path(self.root, name))
        _fsync_dir(self.root)

    def delete(self, name: str) -> None:
        if self.remote:
            self._fs.delete_file(f"{self._base}/{name}")
        else:
            os.unlink(Path(self.root, name))
            _fsync_dir(self.root)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PartsOutput:
    """The driver's view of the output directory: locked for this run (when local), which ids
    are done, and the repair that keeps each id in one part only."""

    def __init__(self, root: str, fmt: str):
        self.root, self.fmt = root, fmt
        self._lock_fd = None
        if not is_uri(root):
            check_output_dir(Path(root))
            Path(root).mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(Path(root, LOCK_NAME), os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._lock_fd)
                raise UsageError(
                    f"{root} is locked: another khulasa batch is writing to it. Fix: wait for "
                    f"that run to finish (then rerun this command to resume), or choose "
                    f"another -o."
                ) from None
            for name in os.listdir(root):  # parts a killed run left half-written
                if name.startswith(".part-") and name.endswith(".tmp"):
                    os.unlink(Path(root, name))
        self.store = PartStore(root)
        if self.store.remote:
            try:
                self.store._fs.create_dir(self.store._base, recursive=True)
            except OSError as exc:
                raise UsageError(f"Cannot create {root}: {exc}. Fix: check the URI.") from None
        self.run_id = uuid.uuid4().hex
        self.store.write(RUN_NAME, self.run_id.encode())  # before the scan: see StaleRun
        other = [n for n in self.store.names() if not n.endswith(f".{fmt}")]
        if other:
            theirs = Path(other[0]).suffix.lstrip(".")
            raise UsageError(
                f"{root} already holds {theirs} parts ({other[0]}...). Fix: rerun with "
                f"--format {theirs} to resume that run, or choose another -o."
            )

    def scan(self) -> tuple[set[str], int]:
        """The ids present (as `id_key`), after removing every repeat of an id from all but
        the first part (in name order) that holds it; and how many records were removed."""
        seen: set[str] = set()
        removed = 0
        for name in self.store.names():
            data = self.store.read(name)
            keys = part_keys(data, name)
            repeats = [k in seen for k in keys]
            if any(repeats):
                removed += sum(repeats)
                self._rewrite_without(name, data, repeats)
            seen.update(keys)
        return seen, removed

    def _rewrite_without(self, name: str, data: bytes, repeats: list[bool]) -> None:
        if all(repeats):
            self.store.delete(name)
            return
        if self.fmt == "jsonl":
            lines = [line for line in data.splitlines() if line.strip()]
            kept = b"".join(line + b"\n" for line, r in zip(lines, repeats, strict=True) if not r)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pq.read_table(pa.BufferReader(data))
            table = table.filter(pa.array([not r for r in repeats]))
            sink = io.BytesIO()
            pq.write_table(table, sink)
            kept = sink.getvalue()
        self.store.write(name, kept)  # the same name: the part's other records stay put

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def check_output_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"-o {path} is a file. With --engine ray the output is a directory of part files. "
            f"Fix: name a directory, e.g. -o {path.with_suffix('')}-parts/"
        )
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(
            f"-o {path}: {parent} is a file, not a directory. Fix: choose another output path."
        )
    if not os.access(parent, os.W_OK):
        raise UsageError(f"-o {path}: no permission to write there. Fix: choose a writable place.")
