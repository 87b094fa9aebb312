"""Article text out of web pages, Word files, PDFs and legacy-encoded text
(models/reading/extract.py), and through the doors that read files: `khulasa translate FILE`
and `khulasa batch DIR`. Every input is made here: a news page with navigation, related links
and comments; Word files with python-docx; PDFs with reportlab in the Noto Naskh Arabic the
page ships."""

import io
import json
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ROOT

from khulasa.models.errors import InputError
from khulasa.models.reading import extract as ex
from khulasa.serve.batch.local import BatchOptions, run_batch
from khulasa.serve.cli import main

LEAD = (
    "قال وزير الخارجية الأمركي جون كيري في ختام مؤتمر لدول التحالف في بروكسل إنه لا توجد "
    "لديه أي خطط للتنسيق مع إيران بشأن الغارات الجوية على تنظيم داعش."
)
SECOND = (
    "واضاف كيري أن المؤتمر لم يكن معنيا ببحث مطالب المعارضة السورية، إلا أنه أكد أن الولايات "
    "المتحدة ستواصل تقديم الدعم للمعارضة المعتدلة."
)
PAGE = f"""<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>كيري: لا تنسيق مع إيران - أخبار الآن</title>
<meta property="og:site_name" content="أخبار الآن">
<meta property="article:published_time" content="2014-12-03"></head><body>
<nav><ul><li><a href="/">الرئيسية</a></li><li><a href="/world">العالم</a></li>
<li><a href="/sport">رياضة</a></li></ul></nav>
<article><h1>كيري: لا تنسيق مع إيران</h1><p>{LEAD}</p><p>{SECOND}</p></article>
<aside><h3>أخبار ذات صلة</h3><ul><li><a href="/x">أمطار غزيرة في الرباط نهاية الأسبوع</a></li>
</ul></aside><section id="comments"><h3>التعليقات</h3><div class="comment">
<p>تعليق من قارئ: هذا خبر مهم جدا ويجب متابعته</p></div></section>
<footer>جميع الحقوق محفوظة ٢٠١٤</footer></body></html>"""


def docx_bytes(paragraphs: list[str], title: str = "") -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = "AFP"
    document.core_properties.created = datetime(2014, 12, 3, 18, 0)
    for p in paragraphs:
        document.add_paragraph(p)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def naskh(tmp_path_factory) -> str:
    """The page's Noto Naskh Arabic as a TrueType file reportlab can embed."""
    from fontTools.ttLib import TTFont
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont as PdfFont

    fonts = ROOT / "serve" / "web" / "static" / "fonts"
    font = TTFont(fonts / "noto-naskh-arabic-arabic-400-normal.woff2")
    font.flavor = None
    path = tmp_path_factory.mktemp("font") / "naskh.ttf"
    font.save(path)
    pdfmetrics.registerFont(PdfFont("Naskh", str(path)))
    return "Naskh"


def visual(line: str) -> str:
    """A line as many Arabic PDFs store it: shaped into presentation forms, in visual
    (left-to-right drawing) order."""
    import arabic_reshaper
    from bidi.algorithm import get_display

    return get_display(arabic_reshaper.reshape(line))


def pdf_bytes(lines: list[str], font: str | None) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    y = 800
    for line in lines:
        if font:
            page.setFont(font, 12)
            page.drawRightString(550, y, visual(line))
        y -= 20
    if font is None:  # a scanned page: a picture of text, no text layer
        page.rect(50, 400, 400, 300, fill=1)
    page.save()
    return out.getvalue()


def test_a_news_page_gives_the_article_and_only_the_article():
    found = ex.extract(PAGE.encode("utf-8"), "page.html")
    assert found.format == "html"
    assert found.text.split("\n\n") == ["كيري: لا تنسيق مع إيران", LEAD, SECOND]
    for noise in ("الرئيسية", "رياضة", "أمطار غزيرة", "تعليق", "جميع الحقوق"):
        assert noise not in found.text
    assert (found.title, found.outlet, found.date) == (
        "كيري: لا تنسيق مع إيران",
        "أخبار الآن",
        "2014-12-03",
    )
    with pytest.raises(InputError) as err:
        links = PAGE.split("<article>")[0] + PAGE.split("</article>")[1].split("<section")[0]
        ex.extract((links + "<footer>جميع الحقوق محفوظة</footer></body></html>").encode(), "l.html")
    assert err.value.code == "no_article"


def test_word_files_keep_their_paragraphs_and_zip_bombs_are_refused(tmp_path):
    found = ex.extract(docx_bytes(["عنوان الخبر", LEAD, "", SECOND], "كيري في بروكسل"), "a.docx")
    assert (found.format, found.title) == ("docx", "كيري في بروكسل")
    assert found.text.split("\n\n") == ["عنوان الخبر", LEAD, SECOND]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<" + b"0" * (ex.MAX_UNCOMPRESSED + 1))
    assert len(bomb.getvalue()) < 200_000  # small on disk, huge inflated
    with pytest.raises(InputError, match="inflate") as err:
        ex.extract(bomb.getvalue(), "bomb.docx")
    assert err.value.code == "too_large"


def test_pdfs_with_arabic_in_visual_order_come_back_in_reading_order(naskh):
    lines = [LEAD.rstrip("."), SECOND.rstrip(".")]  # the Arabic font subset has no "."
    assert visual(lines[0])[:3] != lines[0][:3]  # stored backwards, as presentation forms
    found = ex.extract(pdf_bytes(lines, naskh), "article.pdf")
    assert found.format == "pdf"
    assert [" ".join(x.split()) for x in found.text.split("\n")] == lines
    assert not any("\ufb50" <= ch <= "\ufeff" for ch in found.text)  # letters, not glyph forms


def test_visual_order_lines_are_repaired_when_the_pdf_reader_leaves_them():
    """Some PDF text layers come out in drawing order; the lines are put back."""
    lines = [visual(LEAD.rstrip(".")), visual("وبدأت الولايات المتحدة ضرباتها في 8 من أغسطس (آب)")]
    assert ex._visual_order(lines)
    fixed = [unicodedata.normalize("NFKC", ex._to_logical(line)) for line in lines]
    assert fixed == [LEAD.rstrip("."), "وبدأت الولايات المتحدة ضرباتها في 8 من أغسطس (آب)"]
    assert not ex._visual_order(fixed)


def test_scanned_or_oversized_pdfs_are_refused(naskh, monkeypatch):
    with pytest.raises(InputError, match="no text layer") as err:
        ex.extract(pdf_bytes(["x"], None), "scan.pdf")
    assert err.value.code == "no_text_layer"
    monkeypatch.setattr(ex, "MAX_PAGES", 0)
    with pytest.raises(InputError, match="pages") as err:
        ex.extract(pdf_bytes([LEAD], naskh), "long.pdf")
    assert err.value.code == "too_large"


@pytest.mark.parametrize(
    "data, encoding",
    [
        (LEAD.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + LEAD.encode("utf-8"), "utf-8-sig"),
        (b"\xff\xfe" + LEAD.encode("utf-16-le"), "utf-16"),
        (LEAD.encode("cp1256"), "cp1256"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "cp1256"],
)
def test_text_in_the_usual_encodings_is_read_and_its_encoding_recorded(data, encoding):
    found = ex.extract(data, "a.txt")
    assert (found.text.lstrip("\ufeff"), found.encoding) == (LEAD, encoding)


def test_bytes_decide_the_type_and_bad_text_is_refused():
    with pytest.raises(InputError) as err:
        ex.extract(PAGE.encode("utf-8"), "article.pdf")  # a web page named .pdf
    assert err.value.code == "type_mismatch"
    with pytest.raises(InputError, match="damaged or cut short.*save it again") as err:
        ex.extract(b"PK\x03\x04 not a zip at all", "a.docx")  # a Word file cut short
    assert err.value.code == "damaged_file"
    with pytest.raises(InputError, match="real type") as err:
        ex.extract(b"PK\x03\x04 not a zip at all", "a.txt")  # a zip named as text
    assert err.value.code == "type_mismatch"
    with pytest.raises(InputError, match="not valid UTF-8") as err:
        ex.extract("Déclaration du ministère".encode("latin-1"), "french.txt")
    assert err.value.code == "invalid_utf8"
    with pytest.raises(InputError, match="MiB") as err:
        ex.extract(b"a" * (ex.MAX_BYTES + 1), "big.txt")
    assert err.value.code == "too_large"


def test_translate_reads_word_files_and_records_their_source(replicas, tmp_path, capsys):
    path = tmp_path / "article.docx"
    path.write_bytes(docx_bytes([LEAD, SECOND], "كيري في بروكسل"))
    models = ["--translator", str(replicas["opus-mt"]), "--summarizer", "extractive"]
    assert main(["translate", str(path), "--json", *models]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["source"] for p in doc["paragraphs"] for s in p["segments"]] == [LEAD, SECOND]
    assert doc["meta"]["source"] == {
        "format": "docx", "title": "كيري في بروكسل", "author": "AFP", "date": "2014-12-03"
    }  # fmt: skip


def test_batch_folders_take_pages_word_files_and_pdfs(replicas, tmp_path, naskh):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.html").write_text(PAGE, encoding="utf-8")
    (folder / "b.docx").write_bytes(docx_bytes([LEAD]))
    (folder / "c.pdf").write_bytes(pdf_bytes([SECOND.rstrip(".")], naskh))
    (folder / "d.txt").write_bytes(SECOND.encode("cp1256"))
    (folder / "e.pdf").write_bytes(pdf_bytes(["x"], None))
    (folder / "notes.md").write_text("not read", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    options = BatchOptions(
        inputs=[str(folder)], output=out, summary=False, quiet=True,
        models=_models(replicas),
    )  # fmt: skip
    stats = run_batch(options, log=lambda _: None)
    lines = {Path(x["id"]).name: x for x in map(json.loads, out.read_text("utf-8").splitlines())}
    assert sorted(lines) == ["a.html", "b.docx", "c.pdf", "d.txt", "e.pdf"]
    assert lines["a.html"]["document"]["meta"]["source"]["outlet"] == "أخبار الآن"
    assert lines["b.docx"]["document"]["meta"]["source"]["format"] == "docx"
    assert lines["d.txt"]["document"]["meta"]["source"]["encoding"] == "cp1256"
    assert lines["e.pdf"]["error"]["code"] == "no_text_layer"
    assert (stats.done, stats.failed) == (4, 1)


def _models(replicas):
    from khulasa.models.options import ModelOptions

    return ModelOptions(translator=str(replicas["opus-mt"]), summarizer="none", memory=None)


def test_read_article_is_the_one_way_in_and_a_string_is_only_ever_a_link(tmp_path):
    from khulasa.models.reading.article import read_article

    path = tmp_path / "kerry.docx"
    path.write_bytes(docx_bytes([LEAD, SECOND], "كيري في بروكسل"))
    from_file, from_bytes = read_article(path), read_article(path.read_bytes(), "kerry.docx")
    assert from_file == from_bytes and from_file.kind == "docx"
    assert from_file.paragraphs == [LEAD, SECOND]
    assert from_file.source["title"] == "كيري في بروكسل"  # one set of names: outlet, not site
    with pytest.raises(InputError, match="only http and https"):
        read_article("file:///etc/passwd")  # a visitor's link is fetched or refused, never read
    with pytest.raises(InputError, match="is a directory") as err:
        read_article(tmp_path)
    assert err.value.code == "is_directory"
