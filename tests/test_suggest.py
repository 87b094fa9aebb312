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


def test_suggestions_are_off_unless_asked_and_need_the_memory_and_keys(replicas, tmp_path):
    with pytest.raises(OptionError, match="--memory"):
        serve_options(replicas, suggestions=True)
    # An open server takes corrections only when the operator says so explicitly.
    with pytest.raises(OptionError, match="--suggestions open"):
        serve_options(replicas, suggestions=True, memory=tmp_path / "m.sqlite")
    serve_options(replicas, suggestions=True, suggestions_open=True, memory=tmp_path / "m.sqlite")
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
        api_keys=frozenset({"k1"}), req_limit=60,
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
    assert status == 200 and body["success"] is True and body["correction"] >= 1
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


def test_every_correction_is_recorded_can_be_undone_and_is_limited_per_client(
    server, tmp_path, capsys
):
    from khulasa.serve.cli import main
    from khulasa.serve.limits import SUGGESTIONS_PER_HOUR

    url = server.url
    memory = server.pool.models.memory
    status, body = call(url, "/suggest", {"q": SECOND, "s": "First try.", "api_key": "k1"})
    first = body["correction"]
    status, body = call(url, "/suggest", {"q": SECOND, "s": "Second try.", "api_key": "k1"})
    second = body["correction"]
    rows = {r["id"]: r for r in SentenceMemory(memory).corrections()}
    record = rows[second]
    assert record["client"] == "127.0.0.1" and record["key_id"] and "k1" not in record["key_id"]
    assert json.loads(record["previous"])["h"] == ["First try."]  # the English it replaced
    assert record["created"] > 0 and record["undone"] is None
    # The operator lists and undoes: the English before comes back, newest first.
    assert main(["corrections", "--memory", str(memory), "list"]) == 0
    listed = capsys.readouterr().out
    assert f"#{second}" in listed and "from 127.0.0.1" in listed and "Second try." in listed
    assert main(["corrections", "--memory", str(memory), "undo", str(first)]) == 1  # later one
    assert main(["corrections", "--memory", str(memory), "undo", str(second)]) == 0
    capsys.readouterr()
    status, now = call(url, "/translate", {"q": SECOND, "source": "ar", "api_key": "k1"})
    assert now["translatedText"] == "First try."
    # At most SUGGESTIONS_PER_HOUR corrections an hour from one address: then 429.
    made = len(SentenceMemory(memory).corrections())  # all from this address, in this hour
    for k in range(SUGGESTIONS_PER_HOUR - made):
        assert call(url, "/suggest", {"q": SECOND, "s": f"Try {k}.", "api_key": "k1"})[0] == 200
    status, body = call(url, "/suggest", {"q": SECOND, "s": "One more.", "api_key": "k1"})
    assert status == 429 and "at most 20 an hour" in body["error"]
