"""The server on a network: keys on every door, rate per real client, bounded bodies and
limiter state, visitors' text not kept or revealed, no internals in messages, and a 400 (not
a 500) for every malformed request tried."""

import http.client
import logging
import socket

import pytest
from conftest import serve_options, start_server
from hostile import wait_for
from test_rest import AR, call

from khulasa.models.memory import SentenceMemory
from khulasa.serve.service import Downloads
from khulasa.serve.web.page import API_NAME


@pytest.fixture(scope="module")
def keyed(replicas):
    options = serve_options(
        replicas, summarizer="extractive", backend="torch", api_keys=frozenset({"k1"})
    )
    server = start_server(options)
    yield server
    server.close()


def test_with_keys_no_door_answers_or_takes_a_file_without_one(keyed):
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    # This address proves its key first: the six refusals below lock the address out for
    # keys it has not proven (test_one_way_in), not for this one.
    assert call(keyed.url, "/translate", {"q": AR, "api_key": "k1"})[0] == 200
    with pytest.raises(AuthenticationError):
        Client(keyed.url, verbose=False).predict(AR, api_name=f"/{API_NAME}")
    upload = http.client.HTTPConnection("127.0.0.1", int(keyed.url.rsplit(":", 1)[1][:-1]))
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n'
        b"x\r\n--b--\r\n"
    )
    upload.request(
        "POST", "/gradio_api/upload", body, {"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert upload.getresponse().status == 401
    for path in ("/gradio_api/call/translate_document", "/gradio_api/queue/join"):
        status, _ = call(keyed.url, path, {"data": [AR]})
        assert status == 401, path
    assert call(keyed.url, "/translate", {"q": AR})[0] == 403
    assert call(keyed.url, "/translate", {"q": AR, "api_key": ["k1"]})[0] == 403
    # With the key: the page API (logged in with any name and the key) and REST answer.
    doc = Client(keyed.url, auth=("reader", "k1"), verbose=False).predict(
        AR, api_name=f"/{API_NAME}"
    )
    assert doc["translation"]
    assert call(keyed.url, "/translate", {"q": AR, "api_key": "k1"})[0] == 200


def test_the_rate_limit_counts_page_api_calls_too(replicas):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    server = start_server(serve_options(replicas, summarizer="none", backend="torch", req_limit=2))
    try:
        client = Client(server.url, verbose=False)
        client.predict(AR, api_name=f"/{API_NAME}")
        assert call(server.url, "/translate", {"q": AR})[0] == 200  # the same client: 2 of 2
        with pytest.raises(AppError, match="Too many requests"):
            client.predict(AR, api_name=f"/{API_NAME}")
    finally:
        server.close()


@pytest.mark.parametrize("trusted", [(), ("127.0.0.1",)])
def test_forwarded_headers_name_the_client_only_behind_a_named_proxy(replicas, trusted):
    server = start_server(
        serve_options(
            replicas, summarizer="none", backend="torch", req_limit=3, trusted_proxies=trusted
        )
    )
    try:
        codes = [
            call(server.url, "/detect", {"q": AR}, headers={"X-Forwarded-For": f"203.0.113.{i}"})[0]
            for i in range(6)
        ]
    finally:
        server.close()
    if trusted:  # the proxy vouches for six different clients
        assert codes == [200] * 6
    else:  # forged headers from one address change nothing
        assert codes[:3] == [200] * 3 and codes[3:] == [429] * 3


def test_bodies_over_the_bound_get_413_before_they_are_read_whole(replicas):
    options = serve_options(
        replicas, summarizer="none", backend="torch", char_limit=100, batch_limit=2
    )
    server = start_server(options)
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1][:-1])
    try:
        big = b'{"q": "' + b"x" * (options.max_body + 10) + b'"}'
        status, body = call(server.url, "/translate", raw=big)
        assert status == 413 and "too large" in body["error"]
        conn = http.client.HTTPConnection(host, port, timeout=30)  # chunked: no length told
        chunks = (b"x" * 65536 for _ in range(options.max_body // 65536 + 2))
        conn.request(
            "POST", "/translate", chunks, {"Content-Type": "application/json"}, encode_chunked=True
        )
        assert conn.getresponse().status == 413
    finally:
        server.close()


def test_downloads_expire_and_go_with_the_server(tmp_path):
    downloads = Downloads(keep=1)
    first = downloads.folder()
    (first / "khulasa.json").write_text("{}")
    assert wait_for(lambda: not first.exists(), timeout=10)  # swept on its timer
    second = downloads.folder()
    assert not first.exists() and second.exists()
    downloads.close()
    assert not downloads.root.exists()


def test_the_memory_is_off_on_serve_and_never_told_to_visitors(replicas, tmp_path):
    plain = serve_options(replicas, summarizer="extractive", backend="torch")
    assert plain.models.memory is None  # off unless the operator turns it on
    memory = tmp_path / "memory.sqlite"
    server = start_server(
        serve_options(replicas, summarizer="extractive", backend="torch", memory=memory)
    )
    try:
        first = call(server.url, "/summarize", {"q": AR})[1]["document"]
        second = call(server.url, "/summarize", {"q": AR})[1]["document"]
    finally:
        server.close()
    assert len(SentenceMemory(memory)) >= 1  # it was used...
    for doc in (first, second):  # ...but nobody is told which sentences came from it
        assert "memory_hits" not in doc["meta"]
        assert all(
            "from_memory" not in s["flags"] for p in doc["paragraphs"] for s in p["segments"]
        )
    assert first["translation"] == second["translation"]


def test_messages_to_visitors_name_no_server_paths(replicas):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    server = start_server(serve_options(replicas, summarizer="extractive", backend="torch"))
    try:
        with pytest.raises(AppError) as err:  # an offered preset whose weights are absent
            Client(server.url, verbose=False).predict(AR, "opus-mt-tc-big", api_name=f"/{API_NAME}")
        status, body = call(server.url, "/summarize", {"q": AR, "summarizer": "distilbart-cnn"})
    finally:
        server.close()
    for message in (str(err.value), body["error"]):
        assert "not available on this server" in message
        assert "/hub" not in message and "huggingface" not in message
    assert status == 400


@pytest.mark.parametrize(
    "raw, kind, status, fragment",
    [
        (b"[" * 50_000 + b"]" * 50_000, "application/json", 400, "nested too deeply"),
        (
            b'{"q": "x", "alternatives": 1e400, "api_key": "k1"}',
            "application/json",
            400,
            "whole number",
        ),
        (
            b'{"q": "\\ud800", "source": "ar", "api_key": "k1"}',
            "application/json",
            400,
            "lone surrogate",
        ),
        (
            b'{"q": "x", "source": "\\ud800", "api_key": "k1"}',
            "application/json",
            400,
            "not supported",
        ),
        (
            b"q=%FF%FE&source=ar&api_key=k1",
            "application/x-www-form-urlencoded",
            400,
            "not valid UTF-8",
        ),
        (
            b"q=\xff&source=ar&api_key=k1",
            "application/x-www-form-urlencoded",
            400,
            "not valid UTF-8",
        ),
        (b"{not json", "application/json", 400, "not valid JSON"),
    ],
)
def test_malformed_requests_get_400_not_500(keyed, raw, kind, status, fragment):
    got, body = call(keyed.url, "/translate", raw=raw, headers={"Content-Type": kind})
    assert got == status and fragment in body["error"], body


def test_a_client_that_goes_away_leaves_no_traceback(keyed, caplog):
    caplog.set_level(logging.INFO)
    port = int(keyed.url.rsplit(":", 1)[1][:-1])
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(
                b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                b'\r\nContent-Length: 1000\r\n\r\n{"q": '
            )
    went = lambda: sum("went away" in r.getMessage() for r in caplog.records)  # noqa: E731
    assert wait_for(lambda: went() >= 3, timeout=10)  # each seen and logged, quietly
    assert call(keyed.url, "/translate", {"q": AR, "api_key": "k1"})[0] == 200
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
