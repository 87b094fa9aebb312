"""What `khulasa batch --engine ray` runs inside Ray: the task that parses one input file into
records, and the actor that translates batches of records into part files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...models.errors import InputError, KhulasaError
from ...models.options import ModelOptions
from ...models.reading.extract import SUFFIXES
from .inputs import (
    Record,
    check_record,
    fetch_links,
    is_uri,
    read_file_bytes,
    source_records,
)
from .local import process_step, write_error
from .parts import PartStore, encode_part, id_key, part_name

NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "lustre", "glusterfs")


def parse_source(
    row: dict, text_field: str, id_field: str, done: set[str] | None, size: int, budget=None
):
    """Ray task: the records not yet done of one group of input files (`row["files"]`, JSON
    [{name, error}], in order), in steps of `size` records: one row {keys, records (JSON)}
    per step. A step is one model batch and one part file; a group's steps are always formed
    the same way, so a retried step rewrites the same part. With `done` None (the first
    pass), every id and no text (document files are not read)."""
    keys: list[str] = []
    records: list[str] = []
    for file in json.loads(row["files"]):
        for record in _file_records(file, text_field, id_field, budget, done is None):
            key = id_key(record.id)
            if done is None:
                keys.append(key)
            elif key not in done:
                keys.append(key)
                records.append(_record_json(record))
            if len(keys) == size:
                yield {"keys": keys, "records": records}
                keys, records = [], []
    if keys:
        yield {"keys": keys, "records": records}


def _file_records(file: dict, text_field: str, id_field: str, budget, ids_only: bool):
    name = file["name"]
    if file["error"]:
        data = _error(json.loads(file["error"]))
    elif ids_only and Path(name).suffix.lower() in SUFFIXES:
        data = b""  # a document file's id is its name: nothing to read in the id pass
    elif is_uri(name):
        data = _read_uri(name)
    else:
        data = read_file_bytes(Path(name))
    return source_records(name, data, text_field, id_field, budget, ids_only)


def _read_uri(uri: str) -> bytes | KhulasaError:
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
        with filesystem.open_input_stream(path) as f:
            return f.read()
    except (OSError, ValueError) as exc:
        return InputError(f"Cannot read {uri}: {exc}.", "unreadable")


def error_json(error: KhulasaError) -> str:
    return json.dumps({"code": getattr(error, "code", "error"), "message": str(error)})


def _error(fields: dict) -> KhulasaError:
    return InputError(fields["message"], fields["code"])


def _record_json(r: Record) -> str:
    """A record as JSON that an Arrow string column holds (lone surrogates escaped)."""
    fields = {
        "id": r.id,
        "source": r.source,
        "text": r.text,
        "url": r.url,
        "about": r.about,
        "error": error_json(r.error) if r.error else None,
    }
    text = json.dumps(fields, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(fields)
    return text


def _record(text: str) -> Record:
    fields = json.loads(text)
    error = fields.pop("error")
    return Record(**fields, error=_error(json.loads(error)) if error else None)


class Translate:
    """Ray actor: the pipeline, built once; each call translates one batch of records and
    writes it as one part file."""

    def __init__(
        self, models: ModelOptions, memory: str, summary, max_chars, root, fmt, run_id,
        read=None, fetch=None, force=False,
    ):  # fmt: skip
        from ...models.factory import build_pipeline

        self.note = ""
        if memory != "off":
            path = _node_memory(memory)
            if _network_filesystem(path):
                self.note = (
                    f"the sentence memory {path} is on a network filesystem on this node; "
                    f"it is off here (one SQLite file must not be shared between nodes). "
                    f"Fix: pass --memory with a path on a local disk."
                )
                path = None
            models = models.with_(memory=path)
        else:
            models = models.with_(memory=None)
        self.pipeline = build_pipeline(models, summary=summary)
        self.note = self.note or "; ".join(self.pipeline.warnings)
        self.summary, self.max_chars, self.force = summary, max_chars, force
        self.store, self.fmt = PartStore(root, run_id), fmt
        self.read, self.fetch = read, fetch

    def __call__(self, batch) -> dict:
        """One step (one row): translated, written as one part, counted in one row."""
        records = [_record(text) for text in batch.column("records")[0].as_py()]
        fetch_links(records, self.fetch, self.read)
        records = [check_record(r, self.max_chars, self.force) for r in records]
        lines = process_step(self.pipeline, records, self.summary)
        keys = [id_key(line["id"]) for line in lines]
        name = part_name(keys, self.fmt)
        try:
            self.store.write(name, encode_part(lines, self.fmt))
        except OSError as exc:  # a full disk, a lost mount: the run stops, and says why
            raise write_error(Path(self.store.root), exc) from None
        note, self.note = self.note, ""
        return _counts(lines, name, note)


def _counts(lines: list[dict], part: str, note: str) -> dict:
    """What the driver counts of one step: records done and failed, sentences, memory hits,
    trust flags."""
    docs = [line["document"] for line in lines if "document" in line]
    metas = [d["meta"] for d in docs]
    trust = {"to_check": 0, "flags": {}}
    for meta in metas:
        trust["to_check"] += meta.get("trust", {}).get("to_check", 0)
        for flag, n in meta.get("trust", {}).get("flags", {}).items():
            trust["flags"][flag] = trust["flags"].get(flag, 0) + n
    return {
        "part": [part],
        "records": [len(lines)],
        "failed": [len(lines) - len(docs)],
        "sentences": [sum(len(p["segments"]) for d in docs for p in d["paragraphs"])],
        "memory_hits": [sum(m.get("memory_hits", 0) for m in metas)],
        "trust": [json.dumps(trust)],
        "note": [note],
    }


def _node_memory(memory: str):

    from ...models.env import default_memory_path

    return default_memory_path() if memory == "default" else Path(memory).expanduser()


def _network_filesystem(path, mounts: str = "/proc/mounts") -> bool:
    """Whether `path` (or the folder it will be made in) is on NFS, SMB and the like: the
    mount with the longest prefix of its resolved path, from /proc/mounts."""

    try:
        with open(mounts, encoding="utf-8") as f:
            mounts = [line.split()[1:3] for line in f if len(line.split()) > 2]
    except OSError:
        return False
    real = os.path.realpath(path)
    best, kind = "", ""
    for point, fstype in mounts:
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best, kind = point, fstype
    return kind in NETWORK_FILESYSTEMS or kind.startswith("fuse.sshfs")
