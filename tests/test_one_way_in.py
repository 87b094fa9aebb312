"""One way in (serve/admission.py): every door counts what a request brings before and while
it is read, never after, and reads record files in the bounded worker, so a small hostile
file or a long body costs the budget at most. The hostile inputs are built here."""

from __future__ import annotations

import io
import re
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import serve_options
from hostile import token_heavy_pdf

from khulasa.serve.admission import Allowance, Tally
from khulasa.serve.limits import Gate, Guard
from khulasa.serve.service import Downloads, ModelPool
from khulasa.serve.web.coverage import uploaded
from khulasa.serve.web.page import build_app


def parquet_bomb(rows: int = 6_000, chars: int = 100_000) -> bytes:
    """About 500 bytes: one long text, dictionary-encoded and compressed, repeated `rows`
    times (1.2 GB of text once decoded a row at a time)."""
    table = pa.table({"text": pa.array(["ب" * chars] * rows).dictionary_encode()})
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd", use_dictionary=True)
    return out.getvalue()


def peak_mib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)) // 1024


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from what is held now


class Visitor:
    session_hash = "visitor-1"
    client = None
    username = None


@pytest.fixture(scope="module")
def coverage(replicas):
    """The Coverage tab's handler as Gradio calls it, on a server with 20 documents and
    100,000 characters a digest."""
    options = serve_options(replicas, summarizer="extractive", backend="torch", digest_docs=20,
                            digest_chars=100_000)  # fmt: skip
    app = build_app(options, ModelPool(options), Gate(1, 1), Guard(options), Downloads(60))
    return next(
        f.fn for f in app.fns.values() if getattr(f.fn, "__qualname__", "") == "CoveragePage.run"
    )


def last_status(updates) -> tuple[str, float]:
    started = time.perf_counter()
    *_, final = updates
    return final[0], time.perf_counter() - started


@pytest.mark.parametrize(
    "chars, refusal",
    [(100_000, "more than 20 records"), (10_000, "more than 100,000 characters")],
)
def test_a_parquet_bomb_on_the_coverage_tab_is_refused_within_its_budget(
    coverage, tmp_path, chars, refusal
):
    bomb = tmp_path / "bomb.parquet"
    bomb.write_bytes(parquet_bomb(chars=chars))
    assert bomb.stat().st_size < 1_000
    reset_peak()
    before = peak_mib()
    status, seconds = last_status(coverage([str(bomb)], "", "", 3, Visitor()))
    assert refusal in status, status
    assert seconds < 10
    assert peak_mib() - before < 100  # the server holds none of it; the worker read it
    assert str(tmp_path) not in status


def test_too_many_files_are_refused_before_any_is_read(coverage, tmp_path):
    heavy = token_heavy_pdf()
    paths = []
    for k in range(22):
        path = tmp_path / f"heavy-{k}.pdf"
        path.write_bytes(heavy)
        paths.append(str(path))
    status, seconds = last_status(coverage(paths, "", "", 3, Visitor()))
    assert "22 documents; at most 20" in status and seconds < 2


def test_a_file_that_expands_past_the_limit_is_refused_where_it_is_read(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("ب " * 60_000, encoding="utf-8")
    tally = Tally(Allowance(max_docs=5, max_chars=20_000, max_total=100_000))
    [item] = uploaded([str(big)], tally)
    assert item.error.code == "too_long" and item.text is None and tally.chars == 0


def test_a_malformed_parquet_is_an_error_record_on_batch_and_digest(replicas, tmp_path, capsys):
    from khulasa.serve.cli import main

    for k, data in enumerate([b"PAR1\0\0", b"not parquet at all" * 20]):
        bad = tmp_path / f"bad-{k}.parquet"
        bad.write_bytes(data)
        out = tmp_path / f"out-{k}.jsonl"
        code = main(["batch", str(bad), "-o", str(out), "--translator", str(replicas["opus-mt"]),
                     "--summarizer", "extractive", "--backend", "torch"])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1 and "Traceback" not in err
        assert '"code": "unreadable"' in out.read_text(encoding="utf-8")
        digest = tmp_path / f"d-{k}.json"
        main(["digest", str(bad), "-o", str(digest), "--translator", str(replicas["opus-mt"]),
              "--summarizer", "extractive", "--backend", "torch"])  # fmt: skip
        said = capsys.readouterr().err + (digest.read_text("utf-8") if digest.exists() else "")
        assert "Traceback" not in said and f"bad-{k}.parquet as Parquet" in said


# Every byte counted before it is held; slow clients bounded ---------------------------------


@pytest.fixture(scope="module")
def keyed(replicas):
    from conftest import start_server

    options = serve_options(replicas, summarizer="extractive", backend="torch",
                            api_keys=frozenset({"k1", "k2"}))  # fmt: skip
    server = start_server(options)
    yield server
    server.close()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].strip("/"))


@pytest.mark.parametrize(
    "path",
    ["/gradio_api/queue/join", "/gradio_api/run/predict", "/gradio_api/call/translate_document"],
)
def test_a_huge_body_to_a_gradio_route_is_refused_before_it_is_read(keyed, path):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", _port(keyed.url), timeout=30)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(150 * 2**20))
    conn.endheaders()  # not a byte of the body sent
    assert conn.getresponse().status == 413
    conn.close()
    # Without a declared length, the body is cut off where it passes the cap: the server
    # answers 413 and closes, and the sender finds it out long before 150 MB are sent.
    import socket

    reset_peak()
    before = peak_mib()
    s = socket.create_connection(("127.0.0.1", _port(keyed.url)), timeout=5)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n".encode())  # fmt: skip
    sent, chunk = 0, b"[" * 2**16
    try:
        while sent < 150 * 2**20:
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except OSError:
        pass  # closed by the server (or its buffers full: it stopped reading)
    try:
        answer = s.recv(64)
    except OSError:
        answer = b""  # reset before the answer could be read
    s.close()
    assert sent < 32 * 2**20
    assert answer.startswith(b"HTTP/1.1 413") or answer == b""
    assert peak_mib() - before < 100


def test_a_link_in_an_upload_payload_is_refused_without_allow_urls(keyed):
    from test_rest import call

    assert call(keyed.url, "/translate", {"q": "قال", "api_key": "k1"})[0] == 200  # proven
    file = {"path": "https://example.com/a.txt", "meta": {"_type": "gradio.FileData"}}
    status, body = call(keyed.url, "/gradio_api/queue/join", {"data": ["", file], "fn_index": 0})
    assert status == 400 and "does not fetch links" in body["error"]


def test_wrong_keys_lock_an_address_out_on_every_door_but_not_a_key_it_proved(keyed):
    from test_doors import _login
    from test_rest import call

    url = keyed.url
    assert call(url, "/detect", {"q": "قال", "api_key": "k1"})[0] == 200  # k1 proven here
    statuses = [call(url, "/detect", {"q": "قال", "api_key": f"guess-{k}"})[0] for k in range(6)]
    assert statuses == [403] * 5 + [429]
    # Locked: another guess and an unproven right key wait, on REST and at the page's login;
    status, _ = call(url, "/detect", {"q": "قال", "api_key": "k2"})
    assert status == 429
    status, headers = _login(url, "k2")
    assert status == 429 and int(headers["retry-after"]) > 0
    # the page's API without a login is refused as ever (this address proved k1, so Gradio's
    # own check answers: 401, counted as one more wrong key).
    status, _ = call(url, "/gradio_api/queue/join", {"data": [], "fn_index": 0})
    assert status == 401
    # a colleague behind the same address who had proved k1 keeps working.
    assert call(url, "/detect", {"q": "قال", "api_key": "k1"})[0] == 200
    assert _login(url, "k1")[0] == 200


def test_half_open_connections_do_not_starve_health(replicas, cli_env, tmp_path):
    import resource
    import socket
    import subprocess
    import sys

    from conftest import free_port
    from hostile import wait_for

    from khulasa.serve.connections import HEAD_SECONDS, PER_ADDRESS

    port = free_port()

    def few_descriptors():  # the server gets 512 file descriptors, no more
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    server = subprocess.Popen(
        [sys.executable, "-m", "khulasa.serve", "serve", "--port", str(port),
         "--translator", str(replicas["opus-mt"]), "--summarizer", "extractive",
         "--backend", "torch"],
        env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=few_descriptors,
    )  # fmt: skip
    held = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    try:
        health = f"http://127.0.0.1:{port}/health"
        assert wait_for(lambda: _health_seconds(health) is not None, timeout=120)
        for _ in range(2_000):  # open, send nothing
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)
        seconds = _health_seconds(health, source="127.0.0.2")  # another client address
        assert seconds is not None and seconds < 2
        # Past what one address may hold, connections were closed at once; the rest once
        # their head is HEAD_SECONDS late.
        closed = sum(_closed(s, 0.01) for s in held)
        assert closed >= len(held) - PER_ADDRESS
        assert wait_for(lambda: all(_closed(s, 0.01) for s in held), timeout=HEAD_SECONDS + 5)
        assert _health_seconds(health) is not None
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert "Too many open files" not in err


def _health_seconds(url: str, source: str = "127.0.0.1") -> float | None:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5,
                                          source_address=(source, 0))  # fmt: skip
        conn.request("GET", parts.path)
        ok = conn.getresponse().status == 200
        conn.close()
    except OSError:
        return None
    return time.perf_counter() - started if ok else None


def _closed(s, wait: float) -> bool:
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


# REST /summarize reads English as English ----------------------------------------------------


def test_summarize_summarises_english_as_it_is(keyed, model_calls):
    from test_rest import call

    english = ("The coalition met in Brussels on Wednesday. Sixty countries sent ministers. "
               "Kerry said there are no plans to coordinate with Iran.")  # fmt: skip
    for source in ("en", "auto"):
        status, body = call(keyed.url, "/summarize", {"q": english, "source": source,
                                                      "api_key": "k1"})  # fmt: skip
        assert status == 200, body
        assert (
            body["source"] == "en"
            and body["translated"] is False
            and "not translated" in body["note"]
        )
        assert body["translatedText"] == english  # its own sentences
        assert body["summary"] and all(s["text"] in english for s in body["summary"])
    assert not model_calls  # the translator never ran
    status, body = call(keyed.url, "/summarize", {"q": english, "source": "ar", "api_key": "k1"})
    assert status == 400 and "not Arabic" in body["error"]


def test_documents_and_records_count_together_against_the_allowance(tmp_path):
    from khulasa.models.errors import InputError

    paths = []
    for k in range(3):
        path = tmp_path / f"a{k}.txt"
        path.write_text("قال كيري في بروكسل", encoding="utf-8")
        paths.append(str(path))
    records = tmp_path / "more.jsonl"
    records.write_text("".join(f'{{"id": "r{k}", "text": "خبر"}}\n' for k in range(3)), "utf-8")
    tally = Tally(Allowance(max_docs=5, max_chars=1_000))
    with pytest.raises(InputError) as refused:
        uploaded([str(records), *paths], tally)  # the documents are counted before the records
    assert refused.value.code == "too_many_documents"
    assert len(uploaded(paths, Tally(Allowance(max_docs=5, max_chars=1_000)))) == 3


# One table of inputs through every door: the same error code on each -----------------------

CODES = {  # how a door that prints words (the command line, the page) names each code
    "empty_input": "is empty",
    "too_long": "the limit here is",
    "not_arabic": "is not Arabic",
    "damaged_file": "cannot be opened as one",
    "type_mismatch": "is named as pdf but",
}
DOORS = ("translate", "page", "translate_file", "batch", "digest", "coverage")
ACCEPT_ENGLISH = {"translate_file", "digest", "coverage"}  # English passes through by design


def door_inputs(tmp_path) -> dict[str, tuple]:
    """name -> (path, the code every door that refuses it gives)."""
    made = {
        "empty.txt": ("  \n\u200b\n".encode(), "empty_input"),
        "english.txt": (b"The coalition met in Brussels on Wednesday.", "not_arabic"),
        "long.txt": (("قال كيري " * 2_500).encode(), "too_long"),
        "bad.docx": (b"PK\x03\x04" + b"garbage" * 20, "damaged_file"),
        "fake.pdf": ("قال كيري في بروكسل".encode(), "type_mismatch"),
    }
    out = {}
    for name, (data, code) in made.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, code)
    return out


def code_in(words: str) -> str | None:
    return next((code for code, phrase in CODES.items() if phrase in words), None)


def test_every_door_refuses_each_input_with_the_same_code(keyed, replicas, tmp_path, capsys):
    import json

    import httpx
    from test_web import page_handler

    from khulasa.models.digest.build import DigestLimits, check_inputs
    from khulasa.serve.cli import main

    models = ["--translator", str(replicas["opus-mt"]), "--summarizer", "extractive",
              "--backend", "torch"]  # fmt: skip
    limit = 20_000  # every door's limit on one document here (the server's defaults)
    run_page = page_handler(serve_options(replicas, summarizer="extractive", backend="torch"))
    seen: dict[tuple[str, str], str | None] = {}
    for name, (path, _) in door_inputs(tmp_path).items():
        main(["translate", str(path), *models])
        seen[name, "translate"] = code_in(capsys.readouterr().err)
        *_, final = run_page("", str(path), "", "", "", 0, 3, "", Visitor())
        seen[name, "page"] = code_in(final[0])
        answer = httpx.post(keyed.url + "translate_file", files={"file": (name, path.read_bytes())},
                            data={"source": "auto", "api_key": "k1"}, timeout=60)  # fmt: skip
        seen[name, "translate_file"] = answer.json().get("code")
        out = tmp_path / f"{name}.jsonl"
        main(["batch", str(path), "-o", str(out), "--max-chars", str(limit), *models])
        seen[name, "batch"] = json.loads(out.read_text("utf-8"))["error"]["code"]
        out = tmp_path / f"{name}.json"
        main(["digest", str(path), "-o", str(out), "--max-chars", str(limit), *models])
        [document] = json.loads(out.read_text("utf-8"))["documents"]
        seen[name, "digest"] = (document["error"] or {}).get("code")
        [item] = uploaded([str(path)], Tally(Allowance(max_docs=20, max_chars=limit)))
        [checked] = check_inputs([item], DigestLimits(20, limit, 100_000))
        seen[name, "coverage"] = getattr(checked.input.error, "code", None)
        capsys.readouterr()
    expected = {
        (name, door): None
        if (code == "not_arabic" and door in ACCEPT_ENGLISH)
        or (code == "too_long" and door == "translate")  # one file on the command line: no limit
        else code
        for name, (_, code) in door_inputs(tmp_path).items()
        for door in DOORS
    }
    assert seen == expected


def test_input_kinds_are_one_registry_that_help_widgets_and_rest_read(keyed):
    from test_rest import call

    from khulasa.models.reading.extract import KINDS, file_records, kind_of
    from khulasa.serve.batch.inputs import inputs_in_words

    documents = [s for k in KINDS if not k.records for s in k.suffixes]
    records = [s for k in KINDS if k.records for s in k.suffixes]
    _, settings = call(keyed.url, "/frontend/settings", method="GET")
    assert set(settings["supportedFilesFormat"]) == {f".{k.name}" for k in KINDS if not k.records}
    words = inputs_in_words()
    assert all(s in words for s in records) and all(k.suffixes[0] in words for k in KINDS)
    app = keyed.app  # the page as served: its upload widgets
    types = [c["props"].get("file_types") for c in app.get_config_file()["components"]
             if c["props"].get("elem_id") == "kh-dfiles"]  # fmt: skip
    assert types and set(types[0]) == set(documents + records)
    # Each kind's sniffer takes its own bytes; a record kind reads by its reader.
    assert [kind_of(b) for b in (b"%PDF-1.4", b"<html><p>x</p></html>", b"plain")] == [
        "pdf", "html", "txt"
    ]  # fmt: skip
    [record] = list(
        file_records("a.jsonl", io.BytesIO(b'{"id": "1", "text": "x"}\n'), "text", "id")
    )
    assert (record.id, record.text) == ("1", "x")


def test_a_reader_who_leaves_while_files_are_read_stops_the_read(replicas, tmp_path):
    from hostile import wait_for
    from test_bounded_inputs import _workers

    from khulasa.models.reading.bounded import ReadBudget

    options = serve_options(replicas, summarizer="extractive", backend="torch",
                            read=ReadBudget(seconds=60))  # fmt: skip
    gate = Gate(1, 1)
    app = build_app(options, ModelPool(options), gate, Guard(options), Downloads(60))
    run = next(f.fn for f in app.fns.values()
               if getattr(f.fn, "__qualname__", "") == "CoveragePage.run")  # fmt: skip
    paths = []
    for k in range(3):
        (tmp_path / f"heavy-{k}.pdf").write_bytes(token_heavy_pdf())
        paths.append(str(tmp_path / f"heavy-{k}.pdf"))
    updates = run(paths, "", "", 3, Visitor())
    status = ""
    while "0 of 3 read" not in status:  # progress while the first is read
        status = next(updates)[0]
    assert _workers() and gate.load() == 1
    updates.close()  # what Gradio does with the event of a reader who went away, or Cancel
    assert wait_for(lambda: not _workers(), timeout=3)  # the read's worker killed at once
    assert gate.load() == 0
