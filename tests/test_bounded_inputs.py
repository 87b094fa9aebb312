"""Bounded work for every input: no file, link or record can stall the server or stop a
batch. Each hostile input is built here (tests/hostile.py); each test shows the clear error
and that the other doors (or the next record) are answered meanwhile."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import SAMPLE_AR, serve_options, start_server
from hostile import (
    TricklingServer,
    cut_utf16,
    pdf_bomb,
    token_heavy_pdf,
    wait_for,
    xml_heavy_docx,
)
from test_fetch import site  # noqa: F401
from test_rest import call

from khulasa.models.errors import InputError
from khulasa.models.reading.bounded import Cancelled, ReadBudget, read_bytes, read_link, run_bounded
from khulasa.models.reading.fetch import FetchPolicy
from khulasa.serve.batch.inputs import read_inputs
from khulasa.serve.batch.local import BatchOptions, run_batch

FAST = ReadBudget(seconds=3)


@pytest.fixture(autouse=True)
def reader_started():
    """Timings below are of reads, not of the reader process's first start."""
    from khulasa.models.reading import bounded

    bounded._reader()


def _workers() -> list[int]:
    """The read workers alive now (processes named by the reader's fork: children of the
    reader process of this test process)."""
    from khulasa.models.reading import bounded

    reader = bounded._the_reader
    if reader is None or not reader.alive():
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == reader.process.pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _multipart(name: str, data: bytes) -> tuple[bytes, dict]:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="' + name.encode() + b'"'
        b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--B--\r\n"
    )
    return body, {"Content-Type": "multipart/form-data; boundary=B"}


def _health_latency(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=30) as r:
        assert r.status == 200
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def server(replicas):
    options = serve_options(replicas, summarizer="extractive", backend="torch", read=FAST)
    running = start_server(options)
    yield running
    running.close()


# 1. Reading is work under the limit, in a bounded worker -------------------------------


@pytest.mark.parametrize(
    "name, build", [("heavy.pdf", token_heavy_pdf), ("heavy.docx", xml_heavy_docx)]
)
def test_a_hostile_upload_is_refused_at_the_budget_while_health_answers(server, name, build):
    body, headers = _multipart(name, build())
    answer: dict = {}

    def upload():
        answer["status"], answer["body"] = call(server.url, "/translate_file", raw=body,
                                                headers=headers)  # fmt: skip

    started = time.perf_counter()
    thread = threading.Thread(target=upload)
    thread.start()
    assert wait_for(lambda: _workers(), timeout=10), "the read never reached a worker"
    latencies = []
    while thread.is_alive():
        latencies.append(_health_latency(server.url))
        time.sleep(0.2)
    thread.join()
    took = time.perf_counter() - started
    assert answer["status"] == 400 and "too complex" in answer["body"]["error"]
    assert "--read-seconds" in answer["body"]["error"]
    assert took < FAST.seconds + 5
    assert latencies and max(latencies) < 1.0, latencies  # every door answered meanwhile
    assert wait_for(lambda: not _workers(), timeout=5)  # the worker was killed
    print(f"{name}: 400 after {took:.1f} s; /health max {max(latencies) * 1000:.0f} ms")


def test_a_client_that_goes_away_stops_its_read(server):
    import http.client

    body, headers = _multipart("heavy.pdf", token_heavy_pdf())
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/translate_file", body, headers)
    assert wait_for(lambda: _workers(), timeout=10)
    conn.close()  # the client goes away mid-read
    assert wait_for(lambda: not _workers(), timeout=2), "the read went on for nobody"


def test_a_cancelled_read_stops_its_worker_at_once():
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        read_bytes(token_heavy_pdf(), "heavy.pdf", budget=ReadBudget(seconds=30), cancel=cancel)
    assert time.perf_counter() - started < 2
    assert wait_for(lambda: not _workers(), timeout=2)


def test_memory_over_the_budget_is_too_complex_not_a_dead_server():
    with pytest.raises(InputError) as err:
        run_bounded(bytearray, (2**31,), "a greedy file", ReadBudget(seconds=10, memory_mb=64))
    assert err.value.code == "too_complex" and "memory" in str(err.value)


def test_the_page_reads_a_hostile_file_under_its_slot_and_cancel_stops_it(replicas, tmp_path):
    from test_web import page_handler

    options = serve_options(replicas, summarizer="extractive", backend="torch",
                            read=ReadBudget(seconds=60))  # fmt: skip
    run_page = page_handler(options)
    page = run_page.__self__
    path = tmp_path / "heavy.pdf"
    path.write_bytes(token_heavy_pdf())

    class Visitor:
        session_hash = "visitor-1"
        client = None
        username = None

    updates = run_page("", str(path), "", "", "", 0, 3, "", Visitor())
    assert "Waiting for a free slot" in next(updates)[0]
    assert "Reading the file" in next(updates)[0]
    assert page.gate._slots._value == 0  # reading holds the model slot
    threading.Timer(1.0, page.stopped, args=(Visitor(),)).start()
    started = time.perf_counter()
    status = next(updates)[0]
    assert "was cancelled" in status and time.perf_counter() - started < 5
    assert page.gate._slots._value == 1
    assert wait_for(lambda: not _workers(), timeout=2)


# 2. Every parser's errors become the input's error --------------------------------------


def test_pypdf_bomb_and_cut_utf16_are_errors_not_tracebacks(server, tmp_path):
    with pytest.raises(InputError) as err:
        read_bytes(pdf_bomb(), "bomb.pdf")
    assert err.value.code == "unreadable" and "LimitReachedError" in str(err.value)
    with pytest.raises(InputError) as err:
        read_bytes(cut_utf16("خبر عاجل من بروكسل"), "cut.txt")
    assert err.value.code == "invalid_encoding" and "UTF-16" in str(err.value)
    body, headers = _multipart("bomb.pdf", pdf_bomb())
    status, answer = call(server.url, "/translate_file", raw=body, headers=headers)
    assert status == 400 and "could not be read" in answer["error"]


def _folder_with_hostile_files(root: Path) -> Path:
    root.mkdir()
    (root / "a-good.txt").write_text(SAMPLE_AR.read_text("utf-8"), "utf-8")
    (root / "b-bomb.pdf").write_bytes(pdf_bomb())
    (root / "c-cut.txt").write_bytes(cut_utf16("خبر عاجل من بروكسل"))
    (root / "d-heavy.pdf").write_bytes(token_heavy_pdf())
    (root / "e-heavy.docx").write_bytes(xml_heavy_docx())
    (root / "f-good.txt").write_text(SAMPLE_AR.read_text("utf-8"), "utf-8")
    return root


def test_batch_goes_on_past_every_hostile_file_and_its_rerun_skips_them(replicas, tmp_path):
    from khulasa.models.options import ModelOptions

    folder = _folder_with_hostile_files(tmp_path / "in")
    out = tmp_path / "out.jsonl"
    models = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="extractive",
                          backend="torch")  # fmt: skip
    opts = BatchOptions([str(folder)], out, models, quiet=True, read=FAST)
    stats = run_batch(opts, log=lambda m: None)
    lines = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    codes = {Path(x["id"]).name: x.get("error", {}).get("code", "done") for x in lines}
    assert codes == {
        "a-good.txt": "done",
        "b-bomb.pdf": "unreadable",
        "c-cut.txt": "invalid_encoding",
        "d-heavy.pdf": "too_complex",
        "e-heavy.docx": "too_complex",
        "f-good.txt": "done",
    }
    assert (stats.done, stats.failed) == (2, 4)
    again = run_batch(opts, log=lambda m: None)
    assert (again.done, again.failed, again.skipped) == (0, 0, 6)


def test_records_that_stopped_a_batch_are_error_records(tmp_path):
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(
        '{"id": 1, "text": "نص"}\n'
        '{"id": ' + "7" * 5000 + ', "text": "نص"}\n'
        '{"id": 3, "text": "نص"}\n',
        "utf-8",
    )
    csv_file = tmp_path / "records.csv"
    csv_file.write_text(
        "id,text\nr1,نص أول\nr2," + "ا" * 10_000_001 + "\nr3,نص ثالث\n"
        'r4,"نص مفتوح\nr5,نص خامس\nr6,نص سادس\n',
        "utf-8",
    )
    records = list(read_inputs([str(jsonl), str(csv_file)], "text", "id"))
    got = [(r.id.rsplit("/", 1)[-1], r.error.code if r.error else r.text) for r in records]
    assert got == [
        ("1", "نص"),
        ("records.jsonl:2", "invalid_json"),
        ("3", "نص"),
        ("r1", "نص أول"),
        ("records.csv:3", "invalid_csv"),  # a field over the csv module's limit
        ("r3", "نص ثالث"),
        ("records.csv:5", "invalid_csv"),  # the open quote: reported, not merged
    ]
    assert "never closed" in str(records[-1].error)


def test_the_id_pass_reads_no_document_and_each_is_read_once(replicas, tmp_path, monkeypatch):
    from khulasa.models.options import ModelOptions
    from khulasa.serve.batch import inputs as batch_inputs

    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(5):
        (folder / f"{k}.html").write_text(
            f"<html><body><article><p>{SAMPLE_AR.read_text('utf-8')}</p></article></body></html>",
            "utf-8",
        )
    reads = []
    real = batch_inputs.read_article
    monkeypatch.setattr(
        batch_inputs, "read_article", lambda *a, **kw: reads.append(1) or real(*a, **kw)
    )
    models = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="extractive",
                          backend="torch")  # fmt: skip
    stats = run_batch(BatchOptions([str(folder)], tmp_path / "o.jsonl", models, quiet=True,
                                   docs_per_step=2), log=lambda m: None)  # fmt: skip
    assert stats.done == 5 and len(reads) == 5


# 3. A whole-fetch deadline -----------------------------------------------------------------


def test_a_trickling_link_ends_at_the_fetch_deadline_and_cancel_stops_it():
    trickle = TricklingServer(every=0.3)
    try:
        policy = FetchPolicy(timeout=2.0, allow_loopback=True)
        started = time.perf_counter()
        with pytest.raises(InputError) as err:
            read_link(trickle.url, policy, FAST)
        took = time.perf_counter() - started
        assert err.value.code == "fetch_failed" and "within 2 s" in str(err.value)
        assert 1.9 < took < 3.5, took
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        started = time.perf_counter()
        with pytest.raises(Cancelled):
            read_link(trickle.url, FetchPolicy(timeout=30, allow_loopback=True), FAST, cancel)
        assert time.perf_counter() - started < 1.5
    finally:
        trickle.close()


# 6. Operator opt-in for private addresses ---------------------------------------------


def test_private_links_are_refused_naming_the_opt_in_which_fetches_them(
    site,  # noqa: F811
    replicas,
    capsys,
):
    from khulasa.serve.cli import main

    url = f"{site}/article.html"
    models = ["--translator", str(replicas["opus-mt"]), "--summarizer", "none"]
    assert main(["translate", url, *models]) == 1
    err = capsys.readouterr().err
    assert "loopback address" in err and "--allow-private-urls" in err
    assert main(["translate", url, "--allow-private-urls", "--backend", "torch", *models]) == 0
    assert capsys.readouterr().out.strip()
    # Link-local (cloud metadata) stays refused even then.
    with pytest.raises(InputError, match="link-local"):
        read_link("http://169.254.169.254/latest/", FetchPolicy(allow_private=True))


@pytest.mark.parametrize(
    "address",
    ["2002:c0a8:101::1", "2002:a00:1::1", "fec0::1", "2001:0:4136:e378::1", "64:ff9b::a00:1"],
)
def test_tunnelled_and_site_local_ipv6_addresses_are_refused(address):
    from khulasa.models.reading.fetch import check_address

    for policy in (FetchPolicy(), FetchPolicy(allow_private=True)):
        if address.startswith("fec0") and policy.allow_private:
            continue  # site-local is an intranet address: the operator's opt-in lets it through
        with pytest.raises(ValueError):
            check_address(address, policy)
