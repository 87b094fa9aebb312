import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from khulasa.models.memory import SentenceMemory
from khulasa.models.options import ModelOptions
from khulasa.serve.batch.local import BatchOptions, UsageError, run_batch

ARABIC = "قال وزير الخارجية الأمركي جون كيري في ختام مؤتمر لدول التحالف في بروكسل."


def options(replicas, inputs, out, memory=None, **kw) -> BatchOptions:
    models = ModelOptions(
        translator=str(replicas["opus-mt"]),
        summarizer="extractive",
        beams=1,
        backend="torch",
        memory=memory,
    )
    return BatchOptions(
        inputs=[str(i) for i in inputs], output=out, models=models, quiet=True, **kw
    )


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_mixed_inputs_one_line_each_in_order_with_named_errors(
    replicas, sample_ar, tmp_path, monkeypatch
):
    # Over 60 lines for a reason: one scenario, step by step, whose order is the point.
    import io

    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "a.txt").write_text(sample_ar, encoding="utf-8")
    (tmp_path / "dir" / "sub" / "b.txt").write_text(ARABIC, encoding="utf-8")
    (tmp_path / "legacy.txt").write_bytes("Déclaration du ministère".encode("latin-1"))
    (tmp_path / "docs.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"id": "j1", "text": ARABIC}),
                json.dumps({"id": "j2", "body": ARABIC}),
                json.dumps({"id": "j3", "text": " \n "}),
                "{not json",
                json.dumps({"id": "j5", "text": "This one is English, not Arabic at all."}),
                json.dumps(
                    {"id": "j6", "text": "، ".join([ARABIC] * 600)}
                ),  # one 50,000+ char line
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    (tmp_path / "docs.csv").write_text(f'id,text\nc1,"{ARABIC}"\nc2,\n', encoding="utf-8")
    monkeypatch.setattr(
        sys,
        "stdin",
        io.TextIOWrapper(io.BytesIO(json.dumps({"id": "s1", "text": ARABIC}).encode())),
    )
    out = tmp_path / "out.jsonl"
    stats = run_batch(
        options(
            replicas,
            [
                tmp_path / "dir",
                tmp_path / "legacy.txt",
                tmp_path / "docs.jsonl",
                tmp_path / "docs.csv",
                "-",
            ],
            out,
        )
    )
    lines = read_lines(out)
    ids = [line["id"] for line in lines]
    assert ids == [
        str(tmp_path / "dir" / "a.txt"),
        str(tmp_path / "dir" / "sub" / "b.txt"),
        str(tmp_path / "legacy.txt"),
        "j1",
        "j2",
        "j3",
        f"{tmp_path}/docs.jsonl:4",
        "j5",
        "j6",
        "c1",
        "c2",
        "s1",
    ]
    by_id = {line["id"]: line for line in lines}
    errors = {i: line["error"]["code"] for i, line in by_id.items() if "error" in line}
    assert errors == {
        str(tmp_path / "legacy.txt"): "invalid_utf8",
        "j2": "missing_text_field",
        "j3": "empty_input",
        f"{tmp_path}/docs.jsonl:4": "invalid_json",
        "c2": "empty_input",
        "j5": "not_arabic",  # English: refused, as on every door (batch --force takes it)
    }
    assert "pass --force" in by_id["j5"]["error"]["message"]
    long_doc = by_id["j6"]["document"]
    assert len(long_doc["paragraphs"][0]["segments"]) == 1
    assert "split_at_length_limit" in long_doc["paragraphs"][0]["segments"][0]["flags"]
    assert by_id["s1"]["source"] == "<stdin>"
    assert (stats.done, stats.failed, stats.skipped) == (6, 6, 0)
    assert stats.sentences == 16 + 1 + 1 + 1 + 1 + 1


def test_force_translates_records_that_are_not_arabic_with_a_warning(replicas, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "en", "text": "The coalition met on Wednesday."}) + "\n")
    stats = run_batch(options(replicas, [src], tmp_path / "out.jsonl", force=True))
    (line,) = read_lines(tmp_path / "out.jsonl")
    assert stats.done == 1 and line["document"]["meta"]["warnings"] == ["mostly_non_arabic"]


def test_rerun_skips_done_ids_and_duplicate_ids_are_refused(replicas, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"id": i, "text": ARABIC}) + "\n" for i in range(3)), encoding="utf-8"
    )
    out = tmp_path / "out.jsonl"
    assert run_batch(options(replicas, [src], out)).done == 3
    again = run_batch(options(replicas, [src], out))
    assert (again.done, again.skipped) == (0, 3)
    assert len(read_lines(out)) == 3
    dup = tmp_path / "dup.jsonl"
    dup.write_text(src.read_text(encoding="utf-8") * 2, encoding="utf-8")
    with pytest.raises(UsageError, match="ids occur more than once"):
        run_batch(options(replicas, [dup], tmp_path / "out2.jsonl"))
    assert not (tmp_path / "out2.jsonl").exists()


def count_model_calls(monkeypatch) -> list[int]:
    from khulasa.models.translate import TorchTranslator

    calls: list[int] = []
    real = TorchTranslator.translate_nbest

    def counting(self, texts, n=1, retry=False):
        if not retry:  # first tries (second tries of flagged sentences are counted apart)
            calls.append(len(texts))
        return real(self, texts, n, retry)

    monkeypatch.setattr(TorchTranslator, "translate_nbest", counting)
    return calls


def test_memory_translates_repeated_sentences_once(replicas, sample_ar, tmp_path, monkeypatch):
    calls = count_model_calls(monkeypatch)
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"id": i, "text": sample_ar}) + "\n" for i in range(3)), encoding="utf-8"
    )
    memory = tmp_path / "memory.sqlite"
    stats = run_batch(options(replicas, [src], tmp_path / "out.jsonl", memory=memory))
    assert sum(calls) == 16  # 3 copies of 16 sentences: each distinct sentence once
    assert stats.memory_hits == 0  # the repeats share a batch: translated once, not remembered
    calls.clear()
    stats = run_batch(options(replicas, [src], tmp_path / "out-again.jsonl", memory=memory))
    assert calls == [] and stats.memory_hits == 48
    doc = read_lines(tmp_path / "out-again.jsonl")[0]["document"]
    assert all("from_memory" in s["flags"] for p in doc["paragraphs"] for s in p["segments"])
    # Same results with or without the memory.
    first = read_lines(tmp_path / "out.jsonl")[0]["document"]["translation"]
    assert doc["translation"] == first


def test_documents_share_model_batches(replicas, sample_ar, monkeypatch):
    from khulasa.models.factory import load_pipeline

    pipeline = load_pipeline(str(replicas["opus-mt"]), "none", beams=1, backend="torch")
    calls = count_model_calls(monkeypatch)
    for _ in range(4):
        pipeline.process(sample_ar)
    one_by_one = len(calls)
    calls.clear()
    docs = pipeline.process_many([sample_ar] * 4)
    assert len(calls) < one_by_one
    assert [d.translation for d in docs] == [pipeline.process(sample_ar).translation] * 4


def _hammer(path: str, worker: int) -> None:
    memory = SentenceMemory(path)
    for i in range(40):
        memory.put_many('{"model": "m"}', [(f"w{worker}-s{i}-{k}", "x") for k in range(5)])
        memory.get_many('{"model": "m"}', [f"w{1 - worker}-s{i}-0"])


def test_memory_is_safe_with_two_processes_writing(tmp_path):
    path = str(tmp_path / "memory.sqlite")
    SentenceMemory(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(path, w)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(SentenceMemory(path)) == 2 * 40 * 5


def test_kill_9_at_several_points_then_resume_loses_and_duplicates_nothing(
    replicas, cli_env, tmp_path
):
    n = 14
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": f"doc{i}", "text": f"{ARABIC} رقم {i}."}) + "\n" for i in range(n)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    cmd = [
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
        str(replicas["distilbart-cnn"]),
        "--batch-docs",
        "1",
        "--quiet",
        "--memory",
        str(tmp_path / "memory.sqlite"),
    ]
    kills = 0
    for target in (2, 5, 9):  # kill once the output holds at least this many records
        proc = subprocess.Popen(
            cmd, env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= target:
                break
            time.sleep(0.02)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        # Simulate the worst moment of a crash: a half-written record at the end.
        with open(out, "ab") as f:
            f.write(b'{"id": "doc-half", "source": "x", "docu')
    assert kills == 3
    final = subprocess.run(cmd, env=cli_env, capture_output=True, timeout=600)
    assert final.returncode == 0, final.stderr.decode()
    assert b"half-written" in final.stderr
    ids = [line["id"] for line in read_lines(out)]
    assert sorted(ids) == sorted(f"doc{i}" for i in range(n))  # each exactly once
    assert all("document" in line for line in read_lines(out))


def test_cli_exit_codes(replicas, cli_env, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": 1, "text": ARABIC}) + "\n" + json.dumps({"id": 2}) + "\n",
        encoding="utf-8",
    )
    base = [
        sys.executable,
        "-m",
        "khulasa.serve",
        "batch",
        "--translator",
        str(replicas["opus-mt"]),
        "--summarizer",
        "extractive",
        "--no-memory",
    ]
    some_failed = subprocess.run(
        base + [str(src), "-o", str(tmp_path / "a.jsonl")],
        env=cli_env,
        capture_output=True,
        timeout=300,
    )
    assert some_failed.returncode == 1
    assert b"1 documents done, 1 failed" in some_failed.stderr
    missing = subprocess.run(
        base + [str(tmp_path / "nope.txt"), "-o", str(tmp_path / "b.jsonl")],
        env=cli_env,
        capture_output=True,
        timeout=300,
    )
    assert missing.returncode == 2 and b"No such input" in missing.stderr
    assert b"Traceback" not in missing.stderr + some_failed.stderr
