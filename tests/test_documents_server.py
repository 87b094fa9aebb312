"""Files and links on the server's doors: the page takes an uploaded .docx/.html/.pdf/.txt or,
with --allow-urls, a link, fetched under the guard against request forgery; the page API
takes `url` too. The loopback news site comes from test_fetch."""

import json
from pathlib import Path

import pytest
from conftest import serve_options, start_server
from test_extract import LEAD, SECOND, docx_bytes
from test_fetch import site  # noqa: F401
from test_web import page_handler


def run_page(options, text="", upload=None, link=""):
    return list(page_handler(options)(text, upload, link, "", "", 0, 3, "", None))


def downloaded(button) -> dict:
    value = button.value
    return json.loads(Path(value["path"] if isinstance(value, dict) else value).read_text("utf-8"))


def test_an_uploaded_word_file_is_translated_with_its_source(replicas, tmp_path):
    options = serve_options(replicas, summarizer="extractive", backend="torch")
    path = tmp_path / "kerry.docx"
    path.write_bytes(docx_bytes([LEAD, SECOND], "كيري في بروكسل"))
    updates = run_page(options, upload=str(path))
    status, results = updates[-1][0], updates[-1][1]
    assert 'data-state="done"' in status and "Done: 2 of 2 sentences" in status
    assert results.count('<div class="kh-pair') == 2
    # The file is read under a model slot ("Reading the file…"); its text then goes into the
    # text box and the file is cleared: Edit edits that text.
    assert "Reading the file" in updates[1][0]
    read = next(u for u in updates if isinstance(u[11], str))
    assert read[11:14] == (f"{LEAD}\n\n{SECOND}", None, "")
    doc = downloaded(updates[-1][8])
    assert [s["source"] for p in doc["paragraphs"] for s in p["segments"]] == [LEAD, SECOND]
    assert doc["meta"]["source"]["title"] == "كيري في بروكسل"
    assert Path(updates[-1][9].value if isinstance(updates[-1][9].value, str)
                else updates[-1][9].value["path"]).read_text("utf-8").startswith(
        "# كيري في بروكسل")  # fmt: skip

    pdf_named_txt = tmp_path / "article.pdf"
    pdf_named_txt.write_bytes(path.read_bytes())  # a Word file named .pdf
    status = run_page(options, upload=str(pdf_named_txt))[-1][0]
    assert "its content is a docx file" in status and str(tmp_path) not in status


def test_links_are_refused_unless_the_operator_allows_them(replicas, site):  # noqa: F811
    off = serve_options(replicas, summarizer="extractive", backend="torch")
    ((status, *_),) = run_page(off, link=f"{site}/article.html")
    assert "does not fetch links" in status and "--allow-urls" in status
    # A link pasted into the text box is a link too (not "this text is not Arabic").
    ((status, *_),) = run_page(off, text=f"  {site}/article.html\n")
    assert "does not fetch links" in status and "not Arabic" not in status
    on = serve_options(replicas, summarizer="extractive", backend="torch", allow_urls=True)
    status = run_page(on, link=f"{site}/article.html")[-1][0]
    assert "127.0.0.1 is a loopback address" in status  # the server's own guard
    status = run_page(on, text=f"{site}/article.html")[-1][0]
    assert "127.0.0.1 is a loopback address" in status  # the pasted link, fetched as one


@pytest.fixture(scope="module")
def guarded_server(replicas):
    options = serve_options(
        replicas, summarizer="extractive", backend="torch", allow_urls=True,
        allow_loopback_urls=True,  # the test-only option: our loopback site is reachable
    )  # fmt: skip
    running = start_server(options)
    yield running.url
    running.close()


def test_the_page_api_fetches_links_and_refuses_forgery(guarded_server, site):  # noqa: F811
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(guarded_server, verbose=False)
    doc = client.predict("", url=f"{site}/moved", api_name="/translate_document")
    assert [s["source"] for p in doc["paragraphs"] for s in p["segments"]][1:] == [LEAD, SECOND]
    assert doc["meta"]["source"]["outlet"] == "أخبار الآن"
    for url, why in [
        (f"{site}/to-metadata", "169.254.169.254 is a link-local address"),
        (f"{site}/to-private", "10.0.0.7 is a private address"),
        ("http://[fd00::1]/", "is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("file:///etc/passwd", "only http and https"),
    ]:
        with pytest.raises(AppError, match=why):
            client.predict("", url=url, api_name="/translate_document")
