"""Links (models/reading/fetch.py): a loopback HTTP server serves an Arabic news page (navigation,
related links, comments around the article) and redirects; the guard against server-side
request forgery refuses every address a server must not reach, on every hop."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_extract import LEAD, PAGE, SECOND

from khulasa.models.errors import InputError
from khulasa.models.reading import fetch as fe
from khulasa.serve.batch.local import BatchOptions, run_batch
from khulasa.serve.cli import main

LOOPBACK = fe.FetchPolicy(allow_loopback=True, timeout=5)


class Site(BaseHTTPRequestHandler):
    seen_hosts: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        Site.seen_hosts.append(self.headers.get("Host", ""))
        routes = {
            "/article.html": (200, PAGE.encode("utf-8"), {"Content-Type": "text/html"}),
            "/moved": (302, b"", {"Location": "/article.html"}),
            "/to-metadata": (302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}),
            "/to-private": (301, b"", {"Location": "http://10.0.0.7/admin"}),
            "/loop": (302, b"", {"Location": "/loop"}),
            "/huge": (200, b"", {"Content-Length": str(50 * 2**20)}),
        }
        status, body, headers = routes.get(self.path, (404, b"no", {}))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path != "/huge":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_fetched_page_gives_the_article_only(site):
    found = fe.fetch(f"{site}/moved", LOOPBACK)  # a redirect, followed and checked
    assert found.text.split("\n\n") == ["كيري: لا تنسيق مع إيران", LEAD, SECOND]
    assert (found.format, found.outlet, found.url) == ("html", "أخبار الآن", f"{site}/article.html")


REFUSED = [
    "http://127.0.0.1:{port}/article.html",
    "http://localhost:{port}/article.html",
    "http://[::1]:{port}/article.html",
    "http://[::ffff:127.0.0.1]:{port}/article.html",
    "http://10.1.2.3/",
    "http://192.168.0.1/",
    "http://172.16.5.4/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "ftp://example.com/article.txt",
    "file:///etc/passwd",
    "http://user:secret@example.com/",
]


@pytest.mark.parametrize("template", REFUSED)
def test_addresses_a_server_must_not_reach_are_refused(site, template):
    url = template.format(port=site.rsplit(":", 1)[1])
    with pytest.raises(InputError) as err:
        fe.fetch(url)  # the default guard, as on a server
    assert err.value.code == "url_refused", str(err.value)


@pytest.mark.parametrize(
    "path, fragment",
    [
        ("/to-metadata", "169.254.169.254 is a link-local address"),
        ("/to-private", "10.0.0.7 is a private address"),
        ("/loop", "more than 5 redirects"),
    ],
)
def test_every_redirect_hop_is_checked_again(site, path, fragment):
    with pytest.raises(InputError, match=fragment) as err:
        fe.fetch(site + path, LOOPBACK)
    assert err.value.code == "url_refused"


def test_size_and_status_are_bounded(site):
    with pytest.raises(InputError, match="over 10 MiB") as err:
        fe.fetch(f"{site}/huge", LOOPBACK)
    assert err.value.code == "too_large"
    with pytest.raises(InputError, match="404") as err:
        fe.fetch(f"{site}/nothing", LOOPBACK)
    assert err.value.code == "fetch_failed"


def test_the_connection_goes_to_the_checked_address(site, monkeypatch):
    """The name is resolved once, checked, and the connection made to that address (the
    name goes as Host): a second DNS answer cannot point the fetch elsewhere. Every answer
    is checked: one private address among public ones refuses the link."""
    port = int(site.rsplit(":", 1)[1])
    answers = {"news.test": ["127.0.0.1"], "mixed.test": ["93.184.216.34", "10.0.0.5"]}
    calls = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port_, *args, **kw):
        if host not in answers:  # an address literal: what the connection itself looks up
            return real(host, port_, *args, **kw)
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port_)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    Site.seen_hosts.clear()
    found = fe.fetch(f"http://news.test:{port}/article.html", LOOPBACK)
    assert LEAD in found.text
    assert calls == ["news.test"] and Site.seen_hosts == [f"news.test:{port}"]
    with pytest.raises(InputError, match="10.0.0.5 is a private address"):
        fe.fetch("http://mixed.test/", LOOPBACK)


def test_translate_and_batch_refuse_private_links(site, replicas, tmp_path, capsys):
    models = ["--translator", str(replicas["opus-mt"]), "--summarizer", "none"]
    assert main(["translate", f"{site}/article.html", *models]) == 1
    assert "127.0.0.1 is a loopback address" in capsys.readouterr().err
    src = tmp_path / "links.jsonl"
    src.write_text(
        json.dumps({"id": "meta", "url": "http://169.254.169.254/latest/meta-data/"})
        + "\n"
        + json.dumps({"id": "ok", "text": LEAD})
        + "\n",
        encoding="utf-8",
    )
    from khulasa.models.options import ModelOptions

    out = tmp_path / "out.jsonl"
    models_ = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="none", memory=None)
    stats = run_batch(
        BatchOptions(inputs=[str(src)], output=out, models=models_, summary=False, quiet=True),
        log=lambda _: None,
    )
    lines = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert lines[0]["error"]["code"] == "url_refused" and "document" in lines[1]
    assert (stats.done, stats.failed) == (1, 1)
