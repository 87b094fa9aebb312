"""`khulasa batch` when things go wrong: two runs on one output, ids and names that are not
valid Unicode, links that loop, a broken memory, a bad output path, a full disk."""

import errno
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_batch import ARABIC, options, read_lines

from khulasa.models.errors import KhulasaError
from khulasa.serve.batch.local import UsageError, run_batch


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def batch_cmd(replicas, src, out, *extra):
    return [
        sys.executable,
        "-m",
        "khulasa.serve",
        "batch",
        str(src),
        "-o",
        str(out),
        "--translator",
        str(replicas["opus-mt"]),
        "--summarizer",
        "extractive",
        "--quiet",
        "--no-memory",
        "--backend",
        "torch",
        "--batch-docs",
        "1",
        *extra,
    ]


def test_a_second_run_on_the_same_output_stops_at_once(replicas, cli_env, tmp_path):
    records = [{"id": f"d{i}", "text": f"{ARABIC} رقم {i}."} for i in range(12)]
    src = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    first = subprocess.Popen(batch_cmd(replicas, src, out), env=cli_env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out.exists() and out.read_bytes().count(b"\n") >= 1):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    t0 = time.monotonic()
    with pytest.raises(UsageError, match="is locked: another khulasa batch is writing to it"):
        run_batch(options(replicas, [src], out))  # the second run, here: it stops at once
    print(f"second run refused after {time.monotonic() - t0:.2f} s")
    assert first.poll() is None  # refused while the first one was still writing
    first.wait(300)
    assert first.returncode == 0, first.stderr.read().decode()[-2000:]
    ids = [line["id"] for line in read_lines(out)]
    assert sorted(ids) == sorted(f"d{i}" for i in range(12))  # each exactly once


def test_an_output_with_repeated_ids_is_reported_and_dedupe_keeps_the_first(replicas, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": ARABIC} for i in range(3)])
    out = tmp_path / "out.jsonl"
    run_batch(options(replicas, [src], out))
    lines = out.read_text(encoding="utf-8").splitlines()
    out.write_text("\n".join(lines + [lines[0].replace(ARABIC[:5], "X")]) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="holds 1 ids more than once.*--dedupe"):
        run_batch(options(replicas, [src], out))
    stats = run_batch(options(replicas, [src], out, dedupe=True))
    assert stats.skipped == 3 and out.read_text(encoding="utf-8").splitlines() == lines


def test_ids_and_names_that_are_not_unicode_become_error_records(replicas, tmp_path):
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "ok.txt").write_text(ARABIC, encoding="utf-8")
    bad_name = os.fsdecode(b"caf\xe9.txt")  # a Latin-1 file name
    (folder / bad_name).write_text(ARABIC, encoding="utf-8")
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": "a\\ud800b", "text": "x"}\n'
        '{"id": "c", "text": "\\u0642\\ud800"}\n'
        + json.dumps({"id": "after", "text": ARABIC})
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    stats = run_batch(options(replicas, [folder, src], out))
    by_id = {line["id"]: line for line in read_lines(out)}  # the escaped ids read back as they were
    assert by_id["a\ud800b"]["error"]["code"] == "invalid_id"
    assert by_id[str(folder / bad_name)]["error"]["code"] == "invalid_id"
    assert by_id["c"]["error"]["code"] == "invalid_unicode"
    assert "document" in by_id["after"] and "document" in by_id[str(folder / "ok.txt")]
    assert (stats.done, stats.failed) == (2, 3)
    again = run_batch(options(replicas, [folder, src], out))
    assert (again.done, again.failed, again.skipped) == (0, 0, 5)


def test_links_that_loop_or_dangle_are_unreadable_records(replicas, tmp_path):
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(ARABIC, encoding="utf-8")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (folder / "sub" / "back").symlink_to(folder)  # a cycle
    out = tmp_path / "out.jsonl"
    run_batch(options(replicas, [folder], out))
    lines = {line["id"]: line for line in read_lines(out)}
    assert "document" in lines[str(folder / "a.txt")]
    for name in ("loop.txt", "dangling.txt", "sub/back"):
        assert lines[str(folder / name)]["error"]["code"] == "unreadable", name
    assert len(lines) == 4


@pytest.mark.parametrize("kind", ["random bytes", "directory", "under a file", "truncated"])
def test_a_broken_memory_is_set_aside_and_the_run_goes_on(replicas, tmp_path, kind):
    from khulasa.models.memory import SentenceMemory

    memory = tmp_path / "memory.sqlite"
    if kind == "random bytes":
        memory.write_bytes(os.urandom(4096))
    elif kind == "directory":
        memory.mkdir()
    elif kind == "under a file":
        (tmp_path / "file").write_text("x")
        memory = tmp_path / "file" / "memory.sqlite"
    else:
        SentenceMemory(memory).put_many("s", [(f"source {i}", "x" * 500) for i in range(400)])
        with sqlite3.connect(memory) as conn:  # everything into the main file, then cut it
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for extra in ("-wal", "-shm"):
            Path(f"{memory}{extra}").unlink(missing_ok=True)
        data = memory.read_bytes()
        memory.write_bytes(data[: len(data) // 3])
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": ARABIC} for i in range(3)])
    out = tmp_path / "out.jsonl"
    messages = []
    stats = run_batch(options(replicas, [src], out, memory=memory), log=messages.append)
    assert stats.done == 3 and len(read_lines(out)) == 3
    said = " ".join(messages + stats.notes)
    assert "sentence memory" in said and "sentence memory" in stats.line()


@pytest.mark.parametrize("kind", ["directory", "under a file"])
def test_a_bad_output_path_stops_before_any_model_loads(replicas, tmp_path, kind):
    out = tmp_path / "out"
    if kind == "directory":
        out.mkdir()
    else:
        out.write_text("x")
        out = out / "results.jsonl"
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": ARABIC}])
    bad = options(replicas, [src], out)
    bad = type(bad)(**{**bad.__dict__, "models": bad.models.with_(translator="opus-mt")})
    with pytest.raises(UsageError, match="-o"):  # not ModelNotFound: checked first
        run_batch(bad)


def test_no_output_file_without_the_models(replicas, tmp_path):
    from khulasa.models.errors import ModelNotFound

    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": ARABIC}])
    opts = options(replicas, [src], tmp_path / "out.jsonl")
    opts = type(opts)(**{**opts.__dict__, "models": opts.models.with_(translator="opus-mt")})
    with pytest.raises(ModelNotFound):
        run_batch(opts)
    assert not (tmp_path / "out.jsonl").exists()


def test_a_full_disk_stops_with_one_line_and_the_rerun_resumes(replicas, tmp_path, monkeypatch):
    import khulasa.serve.batch.local as batch

    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": ARABIC} for i in range(5)])
    out = tmp_path / "out.jsonl"
    real_write, writes = os.write, []

    def filling(fd, data):
        writes.append(len(data))
        if len(writes) == 3:
            real_write(fd, data[: len(data) // 2])  # half a line, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(batch.os, "write", filling)
    with pytest.raises(KhulasaError) as err:
        run_batch(options(replicas, [src], out, docs_per_step=1))
    message = str(err.value)
    assert "\n" not in message and str(out) in message
    assert "No space left on device" in message and "MiB free" in message
    monkeypatch.setattr(batch.os, "write", real_write)
    stats = run_batch(options(replicas, [src], out))
    assert (stats.done, stats.skipped) == (3, 2)
    assert sorted(line["id"] for line in read_lines(out)) == [str(i) for i in range(5)]
