"""`khulasa serve --engine ray` (#34): the models as Ray Serve deployments (`Translator`,
`Summarizer`) on a real local Ray instance, the page and REST in front. The same Document as
the local engine through both doors; a replica killed mid-article loses no sentence."""

from __future__ import annotations

import copy
import json
import os
import signal
import urllib.request

import pytest
from conftest import arabic_lines, assert_own_english, serve_options, start_server


@pytest.fixture(scope="module")
def ray_server(replicas):
    server = start_server(serve_options(replicas, engine="ray", ray_replicas=2))
    yield server
    server.close()


@pytest.fixture(scope="module")
def local_pipeline(replicas):
    from khulasa.models.factory import build_pipeline

    return build_pipeline(serve_options(replicas).models, mark_memory=False)


def _same_document(got: dict, want: dict) -> None:
    """The same Document but for the run's timings and time, and the English of random
    words that a near-tie ended otherwise in another batch (`assert_own_english`)."""
    segments = [s for p in got["paragraphs"] for s in p["segments"]]
    wanted = [s for p in want["paragraphs"] for s in p["segments"]]
    assert [(s["index"], s["source"]) for s in segments] == [
        (s["index"], s["source"]) for s in wanted
    ]
    assert_own_english([s["english"] for s in segments], [s["english"] for s in wanted])
    drop = ("timings_ms", "created", "trust")
    assert {k: v for k, v in got["meta"].items() if k not in drop} == {
        k: v for k, v in want["meta"].items() if k not in drop
    }
    assert got["summary"] and all(
        0 <= i < len(segments) for point in got["summary"] for i in point["sources"]
    )


def test_the_ray_engine_answers_both_doors_as_the_local_one(ray_server, local_pipeline,
                                                            sample_ar):  # fmt: skip
    from gradio_client import Client

    from khulasa.serve.web.page import API_NAME

    want = local_pipeline.process(sample_ar).to_dict()
    assert ray_server.pool.default.translator.backend == want["meta"]["translator"]["backend"]
    req = urllib.request.Request(ray_server.url + "summarize",
                                 json.dumps({"q": sample_ar, "source": "ar"}).encode(),
                                 {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=120) as r:
        _same_document(json.loads(r.read())["document"], want)
    page = Client(ray_server.url, verbose=False).predict(sample_ar, api_name="/" + API_NAME)
    _same_document(page, want)


def test_a_replica_killed_mid_article_loses_no_sentence(ray_server, local_pipeline):
    """SIGKILL to one Translator replica once the article's first sentence is back: every
    sentence arrives once, each the English the local engine gives it."""
    from khulasa.serve.ray_tier import replica_pids

    lines = enumerate(arabic_lines() * 2)
    text = "\n\n".join(f"{line} {k}" for k, line in lines)  # each sentence distinct
    pipeline = copy.copy(ray_server.pool.default)
    pipeline.checks = local_pipeline.checks = False  # first tries (no near-tie second tries)
    translator = pipeline.translator
    pids = replica_pids(translator, tries=100)
    assert len(pids) == 2, pids
    victim, killed_at = sorted(pids)[0], None
    for doc in pipeline.stream(text, summary=False):
        done = sum(s.english is not None for s in doc.segments)
        if killed_at is None and done:
            os.kill(victim, signal.SIGKILL)
            killed_at = done
    want = local_pipeline.process(text, summary=False)
    assert [s.source for s in doc.segments] == [s.source for s in want.segments]
    assert all(s.english for s in doc.segments)
    same = assert_own_english([s.english for s in doc.segments],
                              [s.english for s in want.segments])  # fmt: skip
    print(
        f"\nkill test: {len(doc.segments)} sentences; replica {victim} killed after "
        f"{killed_at} were back; {translator.resent} sentences sent again; every sentence "
        f"once; {same} equal to the local engine's, the rest their own near-ties"
    )
    # Sentences the killed replica held came back: sent again by the front (`resent`), or
    # by Ray Serve's own router when a request had not started; either way each once, above.
    assert victim not in replica_pids(translator, tries=10)


def test_a_sentence_whose_replica_died_is_sent_again_and_taken_once():
    """The front's retry (`_answer`): a send whose replica died is sent again, up to RETRIES;
    the first answer is the one taken; past RETRIES, the reader gets the problem in words."""
    from ray.exceptions import ActorDiedError

    from khulasa.models.errors import KhulasaError
    from khulasa.serve import ray_tier

    class Response:
        def __init__(self, value):
            self.value = value

        def result(self, timeout_s=None):
            if isinstance(self.value, Exception):
                raise self.value
            return self.value

    sent = []

    def send():
        sent.append(1)
        return Response(ActorDiedError() if len(sent) < 3 else (["English"], [-0.3]))

    pause, ray_tier.RETRY_PAUSE = ray_tier.RETRY_PAUSE, 0
    try:
        assert ray_tier._answer(send, "a sentence") == (["English"], [-0.3])
        assert len(sent) == 3
        with pytest.raises(KhulasaError, match="could not answer a sentence"):
            ray_tier._answer(lambda: Response(ActorDiedError()), "a sentence")
    finally:
        ray_tier.RETRY_PAUSE = pause
