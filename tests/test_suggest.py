"""Readers' corrections: `POST /suggest` off by default with LibreTranslate's answer; with
--suggestions (and --memory) a reader's English for a sentence is kept as a verified entry
that wins over the model from then on, flagged `verified`; keyed and rate-limited."""

import json

import pytest
from conftest import serve_options, start_server
from test_extract import LEAD, SECOND
from test_rest import call

from khulasa.models.errors import OptionError
from khulasa.models.memory import MemoryTranslator, SentenceMemory

BETTER = "US Secretary of State John Kerry said he has no plans to coordinate with Iran."


def test_suggestions_are_off_unless_asked_and_need_the_memory(replicas):
    with pytest.raises(OptionError, match="--memory"):
        serve_options(replicas, suggestions=True)
    running = start_server(serve_options(replicas, summarizer="none", backend="torch"))
    try:
        status, body = call(running.url, "/suggest", {"q": LEAD, "s": BETTER})
        assert (status, body) == (403, {"error": "Suggestions are disabled on this server."})
    finally:
        running.close()


@pytest.fixture(scope="module")
def server(replicas, tmp_path_factory):
    memory = tmp_path_factory.mktemp("memory") / "memory.sqlite"
    options = serve_options(
        replicas, summarizer="extractive", backend="torch", memory=memory, suggestions=True,
        api_keys=frozenset({"k1"}), req_limit=30,
    )  # fmt: skip
    running = start_server(options)
    yield running
    running.close()


def test_a_suggestion_wins_for_its_sentence_from_then_on(server):
    url = server.url
    status, before = call(url, "/translate", {"q": LEAD, "source": "ar", "api_key": "k1"})
    assert status == 200 and before["translatedText"] != BETTER
    assert call(url, "/suggest", {"q": LEAD, "s": BETTER})[0] == 403  # keyed like every door
    status, body = call(url, "/suggest", {"q": LEAD, "s": f"  {BETTER} ", "api_key": "k1"})
    assert (status, body) == (200, {"success": True})
    status, after = call(url, "/translate", {"q": LEAD, "source": "ar", "api_key": "k1"})
    assert after["translatedText"] == BETTER
    status, summary = call(url, "/summarize", {"q": f"{LEAD} {SECOND}", "api_key": "k1"})
    first, second = [s for p in summary["document"]["paragraphs"] for s in p["segments"]]
    assert first["english"] == BETTER and first["flags"] == ["verified"]
    assert "verified" not in second["flags"]
    assert summary["trust"]["to_check"] <= 1  # a reader's English is not the model's to check
    status, settings = call(url, "/frontend/settings", method="GET")
    assert settings["suggestions"] is True


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"q": f"{LEAD} {SECOND}", "s": BETTER}, "one sentence at a time"),
        ({"q": LEAD, "s": "   "}, "empty"),
        ({"q": LEAD, "s": "x" * 2001}, "at most 2,000"),
        ({"q": LEAD}, "must be strings"),
    ],
)
def test_bad_suggestions_get_400(server, payload, fragment):
    status, body = call(server.url, "/suggest", {**payload, "api_key": "k1"})
    assert status == 400 and fragment in body["error"]


def test_model_output_never_replaces_a_verified_entry(replicas, tmp_path):
    from khulasa.models.factory import build_pipeline
    from khulasa.models.options import ModelOptions

    pipeline = build_pipeline(
        ModelOptions(
            translator=str(replicas["opus-mt"]), summarizer="none", memory=tmp_path / "m.sqlite"
        )  # fmt: skip
    )
    translator = pipeline.translator
    assert isinstance(translator, MemoryTranslator)
    piece = translator.pieces(LEAD)[0]
    translator.suggest(piece, BETTER)
    key = translator.settings_key(1)
    memory: SentenceMemory = translator.memory
    memory.put_many(key, [(piece, json.dumps({"h": ["model words"], "s": [-1.0]}))])
    assert json.loads(memory.get_many(key, [piece])[piece])["h"] == [BETTER]
    doc = pipeline.process(LEAD, summary=False)
    assert doc.segments[0].english == BETTER and "verified" in doc.segments[0].flags
