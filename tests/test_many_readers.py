"""Many readers at once (#34): sentences of jobs running together share model rounds, each
reader still gets exactly its own sentences in order; `/metrics` in Prometheus' format; the
request rate shared by two front processes through a real Redis server; `bench load`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import (
    arabic_lines,
    assert_own_english,
    free_port,
    run_main,
    serve_options,
    start_server,
)
from prometheus_client.parser import text_string_to_metric_families


def _articles() -> list[str]:
    lines = arabic_lines()
    return ["\n\n".join(lines[k : k + 7]) for k in range(0, 42, 7)]


def test_shared_rounds_give_each_reader_its_own_sentences_in_order(replicas):
    """Six readers at once: their sentences share model rounds; each reader gets every one of
    its own sentences, each with its own English (`assert_own_english`), its opening sentence
    first, and key points resting on its own sentences."""
    from khulasa.models.batching import shared
    from khulasa.models.factory import build_pipeline
    from khulasa.models.options import ModelOptions

    models = ModelOptions(translator=str(replicas["opus-mt"]),
                          summarizer=str(replicas["distilbart-cnn"]))  # fmt: skip
    alone = build_pipeline(models, mark_memory=False)
    alone.checks = False  # first tries only: a second try is kept or not by a near-tie
    together = shared(alone, window=0.05)
    texts = _articles()
    expected = [alone.process(t) for t in texts]
    got, first_done = [None] * len(texts), [None] * len(texts)

    def reader(k):
        for doc in together.stream(texts[k]):
            done = [s.index for s in doc.segments if s.english is not None]
            if done and first_done[k] is None:
                first_done[k] = done
            got[k] = doc

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    every_got = [s.english for doc in got for s in doc.segments]
    every_alone = [s.english for doc in expected for s in doc.segments]
    assert_own_english(every_got, every_alone)
    for want, doc, first in zip(expected, got, first_done, strict=True):
        assert [s.source for s in doc.segments] == [s.source for s in want.segments]
        assert first[0] == 0  # the reader's opening sentence is the first it sees
        assert doc.summary and all(
            0 <= i < len(doc.segments) for p in doc.summary for i in p.sources
        )
    front = together.translator
    assert front.mixed > 0, "no round held two readers' sentences"
    assert front.waiting() == 0


def test_a_reader_who_leaves_costs_the_others_nothing(replicas):
    """A stream closed after its first sentence: its waiting sentences are dropped, and the
    reader beside it still gets every sentence."""
    from khulasa.models.batching import shared
    from khulasa.models.factory import build_pipeline
    from khulasa.models.options import ModelOptions

    models = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="none")
    pipeline = shared(build_pipeline(models, mark_memory=False), window=0.05)
    texts = _articles()
    gone = pipeline.stream(texts[0])
    for doc in gone:
        if any(s.english for s in doc.segments):
            break
    gone.close()
    doc = pipeline.process(texts[1])
    assert all(s.english is not None for s in doc.segments)
    assert pipeline.translator.waiting() == 0


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _post(url: str, payload: dict) -> int:
    req = urllib.request.Request(url, json.dumps(payload).encode(),
                                 {"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as err:
        err.read()
        return err.code


def _samples(text: str) -> dict:
    """{(name, labels as a sorted tuple): value} of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_parse_and_move_with_requests(replicas, sample_ar):
    server = start_server(serve_options(replicas, summarizer="extractive"))
    try:
        status, text = _get(server.url + "metrics")
        assert status == 200
        before = _samples(text)
        assert before[("khulasa_jobs_running", ())] == 0
        assert _post(server.url + "translate", {"q": sample_ar, "source": "ar"}) == 200
        assert _post(server.url + "summarize", {"q": sample_ar, "source": "ar"}) == 200
        assert _post(server.url + "summarize", {"q": "  ", "source": "ar"}) == 400
        after = _samples(_get(server.url + "metrics")[1])
    finally:
        server.close()

    def count(name, **labels):
        return after.get((name, tuple(sorted(labels.items()))), 0) - before.get(
            (name, tuple(sorted(labels.items()))), 0
        )

    assert count("khulasa_requests_total", door="translate", status="200") == 1
    assert count("khulasa_requests_total", door="summarize", status="200") == 1
    assert count("khulasa_requests_total", door="summarize", status="400") == 1
    assert count("khulasa_sentences_translated_total") == 32  # 16 sentences, twice
    assert count("khulasa_article_seconds_count", door="summarize") == 1
    assert count("khulasa_reading_errors_total", code="empty_input") == 1
    assert after[("khulasa_shared_rounds_total", ())] >= 1


def test_metrics_need_a_key_on_a_keyed_server(replicas):
    server = start_server(serve_options(replicas, summarizer="none", api_keys=frozenset({"k1"})))
    try:
        assert _get(server.url + "metrics")[0] == 403
        assert _get(server.url + "metrics", {"Authorization": "Bearer k2"})[0] == 403
        status, text = _get(server.url + "metrics", {"Authorization": "Bearer k1"})
        assert status == 200 and "khulasa_requests_total" in text
        assert _get(server.url + "metrics?api_key=k1")[0] == 200
    finally:
        server.close()


@pytest.fixture()
def redis_url(tmp_path):
    """A real Redis server (Debian's redis-server) on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("KHULASA_REQUIRE_REDIS"):
            pytest.fail("redis-server is required here (KHULASA_REQUIRE_REDIS) but missing")
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def test_two_fronts_share_one_request_rate_through_redis(replicas, redis_url, sample_ar):
    """Two front servers, each with its own limiter, counting in one Redis: 3 requests a
    minute per client in all, whichever front takes them. A third front counting in its own
    memory shares nothing."""
    from khulasa.serve.service import ModelPool

    options = serve_options(replicas, summarizer="none", req_limit=3, limits_storage=redis_url)
    pool = ModelPool(options)
    a, b = start_server(options, pool), start_server(options, pool)
    alone = start_server(serve_options(replicas, summarizer="none", req_limit=3), pool)
    q = {"q": sample_ar.split("\n")[0], "source": "ar"}
    try:
        assert [_post(a.url + "translate", q), _post(b.url + "translate", q),
                _post(a.url + "translate", q)] == [200, 200, 200]  # fmt: skip
        assert _post(b.url + "translate", q) == 429
        assert _post(a.url + "translate", q) == 429
        assert _post(alone.url + "translate", q) == 200
    finally:
        for server in (a, b, alone):
            server.close()


def test_an_unreachable_limits_storage_is_refused_with_the_fix(capsys):
    port = free_port()  # nothing listens there
    done = run_main(["serve", "--limits-storage", f"redis://127.0.0.1:{port}",
                     "--port", free_port()], capsys)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no Redis server answers" in done.stderr and "redis-server" in done.stderr


def test_bench_load_emits_its_json(cli_env):
    done = subprocess.run(
        [sys.executable, "-m", "khulasa.serve", "bench", "load", "--size", "tiny",
         "--readers", "2", "--seconds", "1", "--engines", "batched", "--json"],
        capture_output=True, text=True, env=cli_env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    (row,) = result["rows"]
    assert row["engine"] == "batched" and row["readers"] == 2
    assert row["articles"] >= 1 and row["errors"] == 0
    assert row["first_sentence_p50"] is not None and row["article_p95"] is not None
