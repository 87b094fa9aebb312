"""What leaves the server (#33), without a browser: no server path in any view or file, and
the command line's and the Markdown's warnings."""

from __future__ import annotations

import json


def test_no_server_path_leaves_in_any_view_or_file(replicas, sample_ar):
    from khulasa.models.digest.build import DigestInput, make_digest
    from khulasa.models.factory import load_pipeline
    from khulasa.models.report import to_markdown
    from khulasa.serve.web.render import render_results
    from khulasa.serve.web.render_digest import render_digest

    root = str(replicas["opus-mt"].parent)  # the machine's folder of models
    pipeline = load_pipeline(str(replicas["opus-mt"]), str(replicas["distilbart-cnn"]))
    doc = pipeline.process(sample_ar)
    digest = make_digest(pipeline, [DigestInput("a", sample_ar), DigestInput("b", sample_ar)])
    views = {
        "json": doc.to_json(),
        "markdown": to_markdown(doc),
        "page": render_results(doc),
        "digest json": digest.to_json(),
        "digest markdown": digest.to_markdown(),
        "coverage tab": render_digest(digest),
    }
    for name, text in views.items():
        assert root not in text, name
    tr = json.loads(views["json"])["meta"]["translator"]
    assert tr["model"] == "opus-mt" and tr["model_id"] == "local:opus-mt"  # the folder's name
    assert "Translated by opus-mt" in views["page"]


def test_a_result_without_key_points_says_why_on_the_page_and_the_command_line():
    from khulasa.models.document import Document
    from khulasa.models.report import no_summary
    from khulasa.serve.web.render import render_results

    doc = Document.from_dict(
        {
            "paragraphs": [{"segments": [{"index": 0, "source": "قال", "english": "He said."}]}],
            "meta": {"summarizer": {"model": "distilbart-cnn", "mode": "abstractive"}},
        }
    )
    said = no_summary(doc)
    assert said.startswith("No key points: the summariser distilbart-cnn gave none")
    assert "choose the extractive summariser" in said
    assert said in render_results(doc).replace("&#39;", "'")
    doc.meta["summarizer"] = {"model": "none", "mode": "none"}
    assert no_summary(doc) == "No key points: no summariser was chosen."
    doc.meta["summarizer"] = {"model": "extractive", "mode": "extractive"}
    assert "too short" in no_summary(doc)
