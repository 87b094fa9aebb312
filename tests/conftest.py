"""Fixtures: every test gets its own KHULASA_HOME and HF_HOME with the hub switched off (and
the whole session, module fixtures included, a throwaway one: nothing is written to the real
home); tiny replicas of each preset are built once per session and loaded through the public
code."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # The test workers (pyproject: -n 2) share the machine's cores: each, and what it starts
    # (CLI subprocesses, ct2 workers), takes its share rather than all of them, so two workers
    # do not oversubscribe the cores. Set before torch is first imported (below).
    share = len(os.sched_getaffinity(0)) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, share)))

from khulasa.eval.replicas import REPLICA_PRESETS, arabic_text, build_replica

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_AR = ROOT / "eval" / "data" / "brussels_ar.txt"
_SESSION_HOME = tempfile.TemporaryDirectory(prefix="khulasa-tests-")


def pytest_configure(config):
    home = Path(_SESSION_HOME.name)
    os.environ.update(
        KHULASA_HOME=str(home / "khulasa-home"),
        HF_HOME=str(home / "hf-home"),
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        GRADIO_TEMP_DIR=str(home / "gradio"),
    )
    os.environ.pop("HF_HUB_CACHE", None)


def pytest_unconfigure(config):
    _SESSION_HOME.cleanup()


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    monkeypatch.setenv("KHULASA_HOME", str(tmp_path / "khulasa-home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture()
def model_calls(monkeypatch) -> list[tuple[int, int]]:
    """Every call of the torch model in this test, as (texts, hypotheses asked for)."""
    from khulasa.models.translate import TorchTranslator

    calls: list[tuple[int, int]] = []
    real = TorchTranslator.translate_nbest

    def counting(self, texts, n=1, retry=False):
        calls.append((len(texts), n))
        return real(self, texts, n, retry)

    monkeypatch.setattr(TorchTranslator, "translate_nbest", counting)
    return calls


@pytest.fixture(scope="session")
def replicas(tmp_path_factory) -> dict[str, Path]:
    """Tiny replica directories, one per preset, built once per session."""
    root = tmp_path_factory.mktemp("replicas")
    return {p: build_replica(p, root / p, size="tiny") for p in REPLICA_PRESETS}


@pytest.fixture(scope="session")
def sample_ar() -> str:
    return arabic_text()


@pytest.fixture()
def cli_env(tmp_path) -> dict[str, str]:
    """Environment for running `khulasa` in a subprocess, isolated like the tests."""
    env = dict(os.environ)
    env.update(
        KHULASA_HOME=str(tmp_path / "khulasa-home"),
        HF_HOME=str(tmp_path / "hf-home"),
        HF_HUB_OFFLINE="1",
        PYTHONIOENCODING="utf-8",
    )
    return env


def run_main(args: list[str], capsys):
    """`khulasa ARGS` in this process (the same `main` the console script runs; no new
    interpreter to start): its exit status and what it printed."""
    from types import SimpleNamespace

    from khulasa.serve.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def arabic_lines() -> list[str]:
    """Every Arabic sentence the eval sets hold (the sample's, the trust and negation sets')."""
    from khulasa.eval.replicas import DATA_DIR

    names = ("brussels", "trust", "negation")
    texts = [(DATA_DIR / f"{n}.sent.ar").read_text("utf-8") for n in names]
    return [line for text in texts for line in text.splitlines() if line.strip()]


def assert_own_english(got: list[str], alone: list[str]) -> int:
    """Each sentence's English is its own. `alone`: the English each sentence gets alone
    (random words from a replica). `got[i]` is `alone[i]`, or shares at least half its
    character trigrams with it and is no other sentence's English: a sentence mixed into
    another reader's result would be another's, whole. (Random words that run to the length
    cap can end otherwise in another batch, on either backend: batches change the float
    sums, and random weights have near-ties.) Most must be equal; returns how many are."""

    from collections import Counter

    def grams(text: str) -> set:
        return {text[k : k + 3] for k in range(max(1, len(text) - 2))}

    counts = Counter(alone)
    known = {a for a, c in counts.items() if c == 1}  # an English only one sentence gets
    for i, english in enumerate(got):
        if english == alone[i]:
            continue
        mine, own = grams(english), grams(alone[i])
        assert len(mine & own) >= 0.5 * len(mine | own), (i, english, alone[i])
        assert english not in known, (i, "another sentence's English", english)
    # (An English many sentences get alone cannot tell whose it is: random words repeat.)
    same = sum(a == b for a, b in zip(got, alone, strict=True))
    assert same >= 0.7 * len(got), f"only {same} of {len(got)} equal"
    return same


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_options(replicas, translator="opus-mt", summarizer="distilbart-cnn", **kw):
    """ServeOptions on loopback with replica models (`summarizer` a replica name or preset)."""
    from khulasa.models.options import ModelOptions
    from khulasa.serve.service import ServeOptions

    model_kw = {k: kw.pop(k) for k in ("beams", "backend", "memory", "device") if k in kw}
    summ = str(replicas[summarizer]) if summarizer in replicas else summarizer
    models = ModelOptions(translator=str(replicas[translator]), summarizer=summ, **model_kw)
    return ServeOptions(models=models, host="127.0.0.1", port=free_port(), **kw)


def start_server(options, pool=None):
    """Launch the page (and REST) for `options` on a free loopback port; the running Server
    (`.url`, `.close()`)."""
    from dataclasses import replace

    from khulasa.serve.launch import launch

    return launch(replace(options, port=free_port()), pool, block=False)


def reference_memory(
    models, path: Path, texts: list[str], references: dict[str, str], score: float = -0.3
) -> Path:
    """A sentence memory at `path` in which every sentence of `texts` that `references` knows
    (normalised Arabic -> English) is remembered with that English: replica models then show
    the team's readable English, through the same pipeline and memory users run."""
    import json
    import sqlite3

    from khulasa.models.factory import build_pipeline
    from khulasa.models.text import normalize

    build_pipeline(models.with_(memory=path)).process_many(texts, summary=False)
    with sqlite3.connect(path) as db:
        for key, source, value in db.execute("SELECT key, source, english FROM translations"):
            english = references.get(normalize(source))
            if english is None:
                continue
            entry = json.loads(value)
            entry["h"] = [english] * len(entry["h"])
            entry["s"] = [score] * len(entry["h"])  # -0.3: sure; under -1.2: low_confidence
            db.execute("UPDATE translations SET english=? WHERE key=?", (json.dumps(entry), key))
    return path


def plant_nbest(models, path: Path, texts: list[str], wordings: dict[str, list[str]]) -> Path:
    """The sentence memory at `path` (already holding `texts`' 1-best, e.g. from
    `reference_memory`) with the n-best lists (`NBEST` wordings) of `wordings`' sentences
    (normalised Arabic -> wordings, best first) planted: what the model "offers" when the
    glossary asks for its other wordings."""
    import json
    import sqlite3

    from khulasa.models.factory import build_pipeline
    from khulasa.models.glossary import NBEST
    from khulasa.models.text import normalize

    build_pipeline(models.with_(memory=path)).process_many(
        texts, summary=False, alternatives=NBEST - 1
    )
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key, settings, source FROM translations").fetchall()
        for key, settings, source in rows:
            planted = wordings.get(normalize(source))
            if planted is None or json.loads(settings).get("hypotheses") != NBEST:
                continue
            entry = {"h": planted, "s": [-0.3 - 0.1 * k for k in range(len(planted))]}
            db.execute("UPDATE translations SET english=? WHERE key=?", (json.dumps(entry), key))
    return path


@pytest.fixture(scope="module")  # one Playwright per module: two cannot run at once
def reversed_site(replicas, tmp_path_factory):
    """The page on replicas, its memory holding the team's English with the lead reversed
    ("he has plans to coordinate with Iran")."""
    from test_browser import browser_on, need_chromium

    from khulasa.eval.coverage_set import records, references
    from khulasa.models.text import normalize

    need_chromium()
    refs = references()
    lead = next(k for k, v in refs.items() if "he has no plans" in v)
    refs[lead] = refs[lead].replace("he has no plans", "he has plans")
    assert normalize(lead) == lead
    # A name left out on the Article tab, and Outlet B's headline writing "Kerri".
    third = next(k for k, v in refs.items() if v.startswith("Kerry added that the conference"))
    refs[third] = refs[third].replace("Kerry added", "He added")
    headline = next(k for k, v in refs.items() if v.startswith("Kerry: no plans"))
    refs[headline] = refs[headline].replace("Kerry", "Kerri")
    options = serve_options(replicas, summarizer="extractive")
    arabic = [r["text"] for r in records() if r["id"] != "report-en"]
    path = tmp_path_factory.mktemp("memory") / "memory.sqlite"
    memory = reference_memory(options.models, path, arabic, refs, score=-0.9)
    server = start_server(serve_options(replicas, summarizer="extractive", memory=memory))
    with browser_on(server) as browser:
        yield browser, server, None, []
