"""Other wordings of a sentence: the model's n-best, decoded on demand through the sentence
memory and the server's line of model jobs, each with its score and checks; using one changes
the sentence, its key points, its counts and the downloads, for this reader only."""

import json
from pathlib import Path

import gradio as gr
import pytest
from conftest import serve_options

from khulasa.models.checks import WARNINGS, check_pair
from khulasa.models.document import OTHER_WORDING, Document
from khulasa.models.factory import load_pipeline
from khulasa.models.report import to_markdown
from khulasa.models.wordings import (
    CHOSEN_NOTE,
    OFFERED,
    Wording,
    first_wording,
    other_wordings,
    shown_wording,
    use_wording,
)
from khulasa.serve.limits import Gate, Guard
from khulasa.serve.service import Downloads, ModelPool
from khulasa.serve.web.page import Page
from khulasa.serve.web.wordings_box import act


def test_other_wordings_are_the_next_best_with_scores_and_checks_once_through_the_memory(
    replicas, sample_ar, tmp_path, model_calls
):
    pipeline = load_pipeline(
        str(replicas["opus-mt"]), "extractive", backend="torch", memory=tmp_path / "m.sqlite"
    )
    doc = pipeline.process(sample_ar)
    seg = doc.segments[2]
    model_calls.clear()
    found = other_wordings(pipeline, seg)
    assert model_calls == [(1, OFFERED + 1)]  # one decode: the best and the next three
    assert 1 <= len(found) <= OFFERED
    english = [w.english for w in found]
    assert seg.english not in english and len(set(english)) == len(english)
    (nbest,) = [r for b in pipeline.translator.translate_iter([seg.source], OFFERED + 1) for r in b]
    for w in found:  # the model's own hypotheses and scores, checked as a sentence is
        k = nbest.hypotheses.index(w.english)
        assert w.score == nbest.scores[k]
        assert list(w.flags) == check_pair(seg.source, w.english, w.score, pipeline.threshold)
    model_calls.clear()
    assert other_wordings(pipeline, seg) == found and model_calls == []  # the memory answers


def test_using_a_wording_changes_the_sentence_its_key_points_and_exports_and_undoes(
    replicas, sample_ar
):
    pipeline = load_pipeline(str(replicas["opus-mt"]), "extractive", backend="torch")
    doc = pipeline.process(sample_ar)
    point = doc.summary[0]
    index = point.sources[0]
    seg = doc.segments[index]
    first = first_wording(seg)
    before = Document.from_json(doc.to_json()).to_dict()
    # A wording with a fault its sentence did not have: the number left out.
    english = "The coalition met in Brussels."
    flags = tuple(check_pair(seg.source, english, -0.4, pipeline.threshold))
    wording = Wording(english, -0.4, flags)
    use_wording(pipeline, doc, index, wording, first)

    data = doc.to_dict()
    changed = next(s for p in data["paragraphs"] for s in p["segments"] if s["index"] == index)
    assert changed["english"] == english and changed["score"] == -0.4
    assert OTHER_WORDING in changed["flags"] and set(flags) <= set(changed["flags"])
    assert data["summary"][0]["text"] == english  # the key point is that sentence
    assert data["summary"][0]["source_flags"] == [f for f in WARNINGS if f in flags]
    assert data["meta"]["trust"]["to_check"] == sum(
        any(f in WARNINGS for f in s.flags) for s in doc.segments
    )
    markdown = to_markdown(doc)
    assert english in markdown and CHOSEN_NOTE in markdown

    use_wording(pipeline, doc, index, shown_wording(first), first)  # the first one back
    assert doc.to_dict() == before


@pytest.fixture()
def reader(replicas, sample_ar):
    """A Page with its own gate, and the Reading of the sample as the page run leaves it."""
    options = serve_options(replicas, summarizer="extractive", backend="torch")
    page = Page(options, ModelPool(options), Gate(1, 0), Guard(options), Downloads(60))
    *_, last = page.run_page(sample_ar, None, "", "", "", 0, 3, "", None)
    return page, last[10]


def saved(button) -> dict:
    value = button.value["path"] if isinstance(button.value, dict) else button.value
    return json.loads(Path(value).read_text(encoding="utf-8"))


def test_the_page_offers_wordings_and_uses_one_in_its_view_and_downloads(reader, model_calls):
    page, reading = reader
    assert reading.view().count('data-wording="ask:') == len(reading.doc.segments)
    model_calls.clear()
    waiting, (results, status, _, _, kept) = act(page, reading, "ask:2")
    assert "Finding other wordings" in waiting[0] and 'aria-busy="true"' in waiting[0]
    assert model_calls == [(1, OFFERED + 1)] and kept is reading
    assert results.count('data-wording="use:2:') == len(reading.found[2]) >= 1
    assert 'id="kh-wordings"' in results and "score " in results and "Use this wording" in results
    model_calls.clear()
    [again] = act(page, reading, "ask:2")  # asked before: kept, no model call
    assert model_calls == [] and 'data-wording="use:2:0"' in again[0]

    chosen = reading.offered(2)[0]
    [(results, status, json_file, md_file, _)] = act(page, reading, "use:2:0")
    segments = [s for p in saved(json_file)["paragraphs"] for s in p["segments"]]
    english = segments[2]
    assert english["english"] == chosen.english and OTHER_WORDING in english["flags"]
    assert "wording you chose" in results and "the first translation" in results
    assert 'data-state="done"' in status
    [(results, *_)] = act(page, reading, "close:2")
    assert 'id="kh-wordings"' not in results


def test_a_full_line_of_jobs_answers_busy_in_the_panel_and_bad_buttons_do_nothing(
    reader, model_calls
):
    page, reading = reader
    model_calls.clear()
    with page.gate.job():  # the server's one slot taken, nobody may wait (queue_size 0)
        *_, (results, *rest) = act(page, reading, "ask:3")
    assert "Server busy" in results and model_calls == [] and 3 not in reading.found
    for bad in ("ask:99", "use:3:0", "ask:3<img>", "", "drop:1"):
        updates = list(act(page, reading, bad))
        assert len(updates) == 1 and all(not isinstance(u, str) for u in updates[0]), bad


def test_a_wording_shows_which_words_it_changes_and_nothing_runs_from_it():
    from khulasa.serve.web.wordings_box import changed_words

    shown = "Kerry said he has plans to coordinate with Iran."
    assert changed_words(shown, "Kerry said he has no plans to coordinate with Iran.") == (
        'Kerry said he has <mark class="kh-diff">no</mark> plans to coordinate with Iran.'
    )
    marked = changed_words(shown, 'Kerry said <img src=x onerror="alert(1)"> with Iran.')
    assert "<img" not in marked and '<mark class="kh-diff">&lt;img src=x' in marked


def test_asking_and_using_take_the_rate_limit_of_every_door(replicas, sample_ar):
    options = serve_options(replicas, summarizer="extractive", backend="torch", req_limit=3)
    page = Page(options, ModelPool(options), Gate(1, 1), Guard(options), Downloads(60))
    *_, last = page.run_page(sample_ar, None, "", "", "", 0, 3, "", None)  # request 1
    reading = last[10]
    *_, (results, *_) = act(page, reading, "ask:2")  # 2
    assert 'data-wording="use:2:0"' in results
    [(results, status, json_file, *_)] = act(page, reading, "use:2:0")  # 3
    assert json_file.value
    [(results, status, json_file, *_)] = act(page, reading, "use:2:0")  # 4: over the limit
    assert "Too many requests" in results and not isinstance(json_file, gr.DownloadButton)
