"""The page's handlers and its live server, with replica models (no browser here)."""

import re
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, serve_options, start_server

from khulasa.models.document import Document
from khulasa.models.errors import InputError, ModelNotFound
from khulasa.serve.limits import Gate, Guard
from khulasa.serve.service import EXAMPLE, Downloads, ModelPool
from khulasa.serve.web.page import API_NAME, build_app, check_input
from khulasa.serve.web.render import render_collapsed, render_results

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture(scope="module")
def options(replicas):
    return serve_options(replicas, concurrency=1, queue_size=1, backend="torch")


def page_handler(options, pool=None):
    """The page's streaming handler, as Gradio calls it, with its own server parts."""
    pool = pool or ModelPool(options)
    app = build_app(options, pool, Gate(1, 1), Guard(options), Downloads(60))
    return next(fn for fn in app.fns.values() if fn.api_name == "translate_page").fn


def test_input_limits_are_named_before_any_model_call():
    with pytest.raises(InputError, match="empty"):
        check_input(" \u200b\n ", 100)
    with pytest.raises(InputError, match="the limit here is 100"):
        check_input("ب" * 101, 100)
    # Control characters are stripped, not rejected.
    assert check_input("قال\x07 كيري", 100)
    # Text that is not Arabic never reaches the translator; a little English in Arabic does.
    with pytest.raises(InputError, match="not Arabic"):
        check_input("The coalition met in Brussels on Wednesday.", 100)
    assert check_input("قال كيري في بروكسل (AFP) إن التحالف متحد", 100)


def test_the_examples_ship_with_the_product():
    assert EXAMPLE.read_bytes() == (ROOT / "eval" / "data" / "brussels_ar.txt").read_bytes()
    # The Coverage tab's example is the constructed coverage set, as it is pasted.
    from khulasa.eval.coverage_set import records
    from khulasa.serve.web.coverage import example_text

    pasted = "\n".join(f"--- {r['outlet']}\n{r['text'].strip()}" for r in records())
    assert example_text() == pasted


def test_untrusted_text_is_escaped_everywhere_on_the_page():
    doc = Document.from_dict(
        {
            "paragraphs": [
                {"segments": [{"index": 0, "source": XSS, "english": XSS, "flags": []}]}
            ],
            "summary": [{"text": XSS, "sources": [0], "flags": []}],
        }
    )
    html = render_results(doc) + render_collapsed(XSS)
    assert "<img" not in html and "<script>" not in html
    # Arabic, English, key point, the printed title and the headline (the first English
    # line) and the folded input line.
    # (The copies the buttons put on the clipboard hold it too, escaped: counted apart.)
    start = html.index('<div class="kh-copies" hidden>')
    end = html.index("</div></div>", html.rindex('data-html="both"')) + len("</div></div>")
    shown, copies = html[:start] + html[end:], html[start:end]
    assert shown.count("&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;") == 6
    assert copies.count("&lt;img src=x") >= 6 and "<img" not in copies


def test_every_warning_names_what_it_rests_on():
    from khulasa.models.checks import check_pair

    arabic = "وقال كيري: «إن التحالف متحد ويواجه تهديدا مشتركا» في 8 آب."
    english = "Kerry said the the the the coalition داعش داعش"  # a cut, looping translation
    flags = check_pair(arabic, english, -2.0, -1.2)
    doc = Document.from_dict(
        {"paragraphs": [{"segments": [
            {"index": 0, "source": arabic, "english": english, "flags": flags, "score": -2.0}
        ]}]}
    )  # fmt: skip
    html = render_results(doc)
    for shown in (
        "Arabic 8, English none.",  # which number
        "The Arabic quotes «إن التحالف متحد ويواجه تهديدا مشتركا»; the English has no quotation",
        "The English has 46 characters for the Arabic&#39;s 58; a full translation has about 52",
        "The English keeps داعش.",
        "Repeated: “the”.",
        "Model confidence: low (score -2.00;",
    ):
        assert shown in html, shown


def test_page_streams_translation_then_key_points(options, sample_ar):
    handler = page_handler(options)
    updates = list(handler(sample_ar, None, "", "", "", 0, 3, None))
    assert len(updates) >= 4
    first, last = updates[1][1], updates[-1][1]  # results after segmentation, at the end
    assert first.count('class="kh-pending"') == 16  # every pair there at once, English pending
    assert first.count('lang="ar" dir="rtl" data-seg=') == 16
    assert 'id="kh-summary"' in first and "after the translation" in first
    assert "kh-card-waiting" in first  # one line until the key points exist
    assert 'class="kh-point"' in last and 'data-state="done"' in updates[-1][0]
    assert last.count('class="kh-seg kh-en" lang="en" data-seg=') == 16
    # Plain words where a reader looks: model paths and settings only behind "Details".
    shown = re.sub(r"<details>.*?</details>", "", last, flags=re.S)
    for internal in (options.models.translator, "ct2", "torch", "beams", "extractive"):
        assert internal not in shown, internal
    json_button, md_button = updates[-1][8], updates[-1][9]
    saved = Path(
        json_button.value["path"] if isinstance(json_button.value, dict) else json_button.value
    )
    assert Document.from_json(saved.read_text(encoding="utf-8")).to_dict()["summary"]
    md = Path(md_button.value["path"] if isinstance(md_button.value, dict) else md_button.value)
    # Named after the date and the article's first words, not "khulasa.md".
    assert md.suffix == ".md" and md.stem == saved.stem and md.stem[:4].isdigit()


def test_page_problems_replace_the_results_in_readers_words(options):
    handler = page_handler(options)
    ((status, results, editor, *_),) = list(handler("ب" * 30_000, None, "", "", "", 0, 3, None))
    assert "30,000 characters; the limit here is 20,000" in status and 'role="alert"' in status
    assert results == "" and editor.visible  # nothing stale; the input open to fix
    ((status, *_),) = list(handler("Hello, world.", None, "", "", "", 0, 3, None))
    assert "not Arabic" in status


def test_missing_model_stops_the_server_before_it_serves(replicas, options):
    from dataclasses import replace

    models = options.models.with_(summarizer="distilbart-cnn")  # the preset: not on disk
    with pytest.raises(ModelNotFound, match="khulasa models fetch distilbart-cnn"):
        ModelPool(replace(options, models=models))


@pytest.fixture(scope="module")
def live(options):
    """A live server on 127.0.0.1 whose model calls can be held at a gate."""
    pool = ModelPool(options)
    gate = threading.Event()
    gate.set()
    real_get = pool.get

    def gated_get(*args):
        gate.wait(timeout=60)
        return real_get(*args)

    pool.get = gated_get
    server = start_server(options, pool)
    yield server.url, gate
    server.close()


def test_api_returns_the_document_json(live, sample_ar):
    from gradio_client import Client

    url, _ = live
    client = Client(url, verbose=False)
    doc = client.predict(sample_ar, api_name=f"/{API_NAME}")
    segments = [s for p in doc["paragraphs"] for s in p["segments"]]
    assert len(segments) == 16 and all(s["english"] for s in segments)
    assert doc["summary"] and doc["meta"]["summarizer"]["mode"] == "abstractive"


def test_api_names_bad_input(live):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(live[0], verbose=False)
    with pytest.raises(AppError, match="empty"):
        client.predict("   ", api_name=f"/{API_NAME}")
    with pytest.raises(AppError, match="beams must be 0"):
        client.predict("قال كيري", "", "", 99, api_name=f"/{API_NAME}")


def test_a_full_queue_answers_busy_and_the_server_keeps_serving(live, sample_ar):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    url, gate = live
    client = Client(url, verbose=False)
    gate.clear()  # hold the running job inside the model call
    try:
        # --concurrency 1 and --queue-size 1: one runs, one waits, the rest are turned away.
        text = sample_ar.split(".")[0] + "."  # one sentence: the jobs that run finish fast
        jobs = [client.submit(text, api_name=f"/{API_NAME}") for _ in range(4)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(j.done() for j in jobs):
            time.sleep(0.1)
    finally:
        gate.set()
    done, busy = 0, []
    for job in jobs:
        try:
            assert job.result(timeout=60)["paragraphs"]
            done += 1
        except AppError as exc:
            busy.append(str(exc))
    assert busy and all("full" in e.lower() for e in busy)
    assert done >= 1 and done + len(busy) == 4
    doc = client.predict("قال كيري", api_name=f"/{API_NAME}")  # still serving
    assert doc["paragraphs"][0]["segments"][0]["english"]


def test_visitors_can_pick_only_offered_models(options):
    pool = ModelPool(options)
    with pytest.raises(InputError, match="not offered by this server"):
        pool.get("/etc", None, None)
    with pytest.raises(InputError, match="not offered"):
        pool.get(None, "some-org/some-model", None)
    assert "opus-mt-tc-big" in pool.offered("translator")
