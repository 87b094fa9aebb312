"""`POST /translate_file` round trips with a real HTTP client (httpx), each format: the
translated file comes back in the same format (.pdf as .docx), its structure kept; bad files
get LibreTranslate's error shape; translated files expire and go with the server."""

import io
import zipfile

import httpx
import pytest
from conftest import serve_options, start_server
from hostile import wait_for
from test_extract import LEAD, PAGE, SECOND, docx_bytes, naskh, pdf_bytes  # noqa: F401


@pytest.fixture(scope="module")
def server(replicas):
    options = serve_options(
        replicas, summarizer="none", backend="torch", keep_downloads=3, file_limit=300_000
    )
    running = start_server(options)
    yield running
    running.close()
    assert not running.downloads.root.exists()  # nothing left on disk


def post(server, name: str, data: bytes, **fields) -> httpx.Response:
    return httpx.post(
        server.url.rstrip("/") + "/translate_file",
        files={"file": (name, data)},
        data={"source": "ar", "target": "en", **fields},
        timeout=120,
    )


def round_trip(server, name: str, data: bytes) -> tuple[str, bytes]:
    answer = post(server, name, data)
    assert answer.status_code == 200, answer.text
    url = answer.json()["translatedFileUrl"]
    assert url.startswith(server.url.rstrip("/") + "/download_file/")
    got = httpx.get(url, timeout=30)
    assert got.status_code == 200
    return url, got.content


def test_text_files_come_back_as_text_paragraph_for_paragraph(server):
    url, out = round_trip(server, "kerry.txt", f"{LEAD}\n\n{SECOND}".encode("cp1256"))
    assert url.endswith(".kerry.txt")
    english = out.decode("utf-8").split("\n\n")
    assert len(english) == 2 and LEAD not in english and SECOND not in english


def test_web_pages_keep_their_markup(server):
    url, out = round_trip(server, "page.html", PAGE.encode("utf-8"))
    html = out.decode("utf-8")
    assert url.endswith(".page.html")
    for markup in ("<nav>", "<article>", '<section id="comments">', "</footer>"):
        assert markup in html
    assert LEAD not in html and SECOND not in html
    # A fragment with no "article" in it is translated whole too.
    _, out = round_trip(server, "snippet.html", "<p>قال <b>كيري</b></p>".encode())
    assert out.decode("utf-8").startswith("<p>") and "<b>" in out.decode("utf-8")


def test_word_files_keep_paragraphs_and_tables(server):
    import docx

    document = docx.Document(io.BytesIO(docx_bytes([LEAD, SECOND])))
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "بروكسل", "الأربعاء"
    source = io.BytesIO()
    document.save(source)
    url, out = round_trip(server, "report.docx", source.getvalue())
    assert url.endswith(".report.docx")
    translated = docx.Document(io.BytesIO(out))
    texts = [p.text for p in translated.paragraphs if p.text.strip()]
    assert len(texts) == 2 and LEAD not in texts
    cells = [translated.tables[0].cell(0, i).text for i in range(2)]
    assert cells != ["بروكسل", "الأربعاء"] and all(cells)
    assert b"w:bidi" not in zipfile.ZipFile(io.BytesIO(out)).read("word/document.xml")


def test_pdfs_come_back_as_word_files(server, naskh):  # noqa: F811
    import docx

    url, out = round_trip(server, "scan.pdf", pdf_bytes([LEAD.rstrip("."), SECOND], naskh))
    assert url.endswith(".scan.docx")  # says which: a .docx of the PDF's paragraphs
    assert len([p for p in docx.Document(io.BytesIO(out)).paragraphs if p.text.strip()]) == 1


def test_bad_files_get_an_error_and_downloads_expire(server):
    answer = post(server, "article.pdf", PAGE.encode("utf-8"))
    assert answer.status_code == 400 and "its content is a html file" in answer.json()["error"]
    answer = post(server, "notes.md", b"# notes")
    assert answer.status_code == 400 and ".md is not supported" in answer.json()["error"]
    answer = post(server, "big.txt", LEAD.encode("utf-8") * 2000)
    assert answer.status_code == 413 and "too large" in answer.json()["error"]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<" + b"0" * (60 * 2**20))
    answer = post(server, "bomb.docx", bomb.getvalue())
    assert answer.status_code == 400 and "zip bomb" in answer.json()["error"]
    answer = post(server, "a.txt", LEAD.encode("utf-8"), target="fr")
    assert answer.status_code == 400
    missing = httpx.get(server.url.rstrip("/") + "/download_file/" + "0" * 32 + ".x.txt")
    assert missing.status_code == 404 and "error" in missing.json()
    url, _ = round_trip(server, "soon.txt", LEAD.encode("utf-8"))
    # --keep-downloads 3: gone within a sweep after that
    assert wait_for(lambda: httpx.get(url).status_code == 404, timeout=15)


def test_keys_guard_file_translation_too(replicas):
    options = serve_options(replicas, summarizer="none", backend="torch",
                            api_keys=frozenset({"k1"}))  # fmt: skip
    running = start_server(options)
    try:
        assert post(running, "a.txt", LEAD.encode("utf-8")).status_code == 403
        assert post(running, "a.txt", LEAD.encode("utf-8"), api_key="k1").status_code == 200
    finally:
        running.close()
