"""The coverage digest's doors: `khulasa digest` and `POST /digest`, with replica models
(their English is random words; the copies are found on the Arabic side regardless)."""

import json

import jsonschema
import pytest
from conftest import serve_options, start_server
from test_rest import call

from khulasa.eval.coverage_set import records
from khulasa.models.digest.build import SCHEMA
from khulasa.models.report import md
from khulasa.serve.admission import Allowance, Tally
from khulasa.serve.cli import main
from khulasa.serve.web.coverage import split_pasted, uploaded

SCHEMA_CHECK = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8")))


@pytest.fixture()
def coverage_jsonl(tmp_path):
    path = tmp_path / "coverage.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records()), encoding="utf-8"
    )
    return path


def test_digest_command_writes_markdown_or_json(replicas, coverage_jsonl, tmp_path, capsys):
    models = ["--translator", str(replicas["opus-mt"]), "--summarizer", "extractive"]
    md = tmp_path / "brussels-digest.md"
    assert main(["digest", str(coverage_jsonl), "-o", str(md), *models]) == 0
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Coverage digest: ")
    assert "| 1 | AFP wire via 4 outlets: Akhbar Al-Aan, Outlet B, Outlet C, Outlet D |" in text
    assert "## Sentences cited" in text
    err = capsys.readouterr().err
    assert "6 of 6 documents in 3 stories" in err and "written to" in err

    out = tmp_path / "new" / "folder" / "brussels-digest.json"  # folders made as needed
    assert main(["digest", str(coverage_jsonl), "-o", str(out), "--points", "2", *models]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    SCHEMA_CHECK.validate(data)
    assert len(data["key_points"]) == 2
    assert [d["outlet"] for d in data["documents"]][:2] == ["Akhbar Al-Aan", "Outlet B"]
    assert data["documents"][0]["date"] == "2014-12-03"
    assert not list(out.parent.glob(".*.tmp"))  # written whole, no leftovers


def test_digest_command_reads_folders_and_reports_what_it_left_out(
    replicas, tmp_path, capsys, sample_ar
):
    folder = tmp_path / "coverage"
    folder.mkdir()
    (folder / "a.txt").write_text(sample_ar, encoding="utf-8")
    (folder / "b.txt").write_text("عاجل\n\n" + sample_ar, encoding="utf-8")
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    (folder / "legacy.txt").write_bytes("Déclaration du ministère".encode("latin-1"))
    code = main(
        ["digest", str(folder), "--markdown", "--quiet", "--no-memory",
         "--translator", str(replicas["opus-mt"]), "--summarizer", "extractive"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1  # some documents were left out
    assert captured.out.startswith("# Coverage digest")
    assert "## Left out" in captured.out and "`empty_input`" in captured.out
    assert "`invalid_utf8`" in captured.out
    assert f"left out {folder / 'empty.txt'}" in captured.err
    # One story of the two copies; ids are the paths, as in batch.
    wire = f"AFP wire via 2 outlets: {md(str(folder / 'a.txt'))}, {md(str(folder / 'b.txt'))}"
    assert f"| 1 | {wire} |" in captured.out


def test_a_bad_output_stops_before_any_model_loads(tmp_path, coverage_jsonl, capsys):
    code = main(
        ["digest", str(coverage_jsonl), "-o", str(tmp_path), "--translator", "/nowhere/model"]
    )
    assert code == 2
    assert "is a directory" in capsys.readouterr().err
    # A missing model: a clear error, and no output file.
    out = tmp_path / "d.json"
    assert main(["digest", str(coverage_jsonl), "-o", str(out), "--translator", "/nowhere"]) == 1
    assert "/nowhere" in capsys.readouterr().err and not out.exists()


def test_pasted_articles_split_at_dashes_and_uploads_hide_server_paths(tmp_path):
    items = split_pasted("أولا\n--- Reuters\nقال كيري\n-----\n\nخبر ثالث\n---\n  \n")
    assert [(i.id, i.outlet, i.text.strip()) for i in items] == [
        ("article-1", None, "أولا"),
        ("article-2", "Reuters", "قال كيري"),
        ("article-3", None, "خبر ثالث"),
    ]
    bad = tmp_path / "upload-dir" / "legacy.txt"
    bad.parent.mkdir()
    bad.write_bytes("Déclaration du ministère".encode("latin-1"))
    [item] = uploaded([str(bad)], Tally(Allowance(max_docs=5)))
    assert item.id == "legacy.txt" and item.error.code == "invalid_utf8"
    assert str(tmp_path) not in str(item.error) and "legacy.txt" in str(item.error)
    links = tmp_path / "links.jsonl"
    links.write_text('{"id": "l1", "url": "https://example.com/a"}\n', encoding="utf-8")
    [item] = uploaded([str(links)], Tally(Allowance(max_docs=5)))
    assert item.id == "l1" and item.error.code == "urls_off" and "does not fetch" in str(item.error)


@pytest.fixture(scope="module")
def server(replicas):
    options = serve_options(
        replicas,
        summarizer="extractive",
        char_limit=3_000,
        digest_docs=8,
        digest_chars=20_000,
        api_keys=frozenset({"k1"}),
    )
    running = start_server(options)
    yield running.url
    running.close()


def test_post_digest_takes_an_array_or_an_object(server):
    docs = [{k: r[k] for k in ("id", "text", "outlet")} for r in records()]
    status, data = call(server, "/digest?api_key=k1", docs)
    assert status == 200, data
    SCHEMA_CHECK.validate(data)
    assert data["stories"][0]["outlets"] == ["Akhbar Al-Aan", "Outlet B", "Outlet C", "Outlet D"]
    status, data = call(server, "/digest", {"documents": docs, "points": 2, "api_key": "k1"})
    assert status == 200 and len(data["key_points"]) == 2
    for point in data["key_points"]:
        for source in point["sources"]:
            doc = next(d for d in data["documents"] if d["id"] == source["document"])
            assert source["segment"] < len(
                [s for p in doc["document"]["paragraphs"] for s in p["segments"]]
            )


def test_post_digest_errors_have_libretranslate_shapes(server):
    text = records()[0]["text"]
    status, data = call(server, "/digest", [{"id": "a", "text": text}])
    assert status == 403 and "api_key" in data["error"]
    status, data = call(server, "/digest?api_key=k1", {"documents": "nope"})
    assert status == 400 and "array of documents" in data["error"]
    status, data = call(server, "/digest?api_key=k1", [{"id": "a", "text": text}] * 9)
    assert status == 400 and "at most 8" in data["error"]
    many = [{"id": str(i), "text": (text * 2)[:2_900]} for i in range(8)]
    status, data = call(server, "/digest?api_key=k1", many)
    assert status == 400 and "20,000" in data["error"]
    status, data = call(server, "/digest?api_key=k1", {"documents": [], "points": 0})
    assert status == 400 and "points" in data["error"]
    status, data = call(server, "/digest?api_key=k1", {"documents": []})
    assert status == 400 and "No documents" in data["error"]
    # Per-document problems: that document's error, the rest digested.
    docs = [
        {"id": "a", "text": text},
        {"id": "a", "text": text},
        {"id": "long", "text": text * 2},
        {"id": "none"},
        {"id": "b", "text": text},
    ]
    status, data = call(server, "/digest?api_key=k1", docs)
    assert status == 200, data
    codes = [d["error"]["code"] if d["error"] else None for d in data["documents"]]
    assert codes == [None, "duplicate_id", "too_long", "missing_text_field", None]
    # A body over the bound is refused before it is read whole.
    status, data = call(server, "/digest?api_key=k1", raw=b"[" + b" " * 400_000 + b"]")
    assert status == 413
