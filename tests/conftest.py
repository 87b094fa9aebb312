"""Fixtures: every test gets its own KHULASA_HOME and HF_HOME with the hub switched off; tiny
replicas of each preset are built once per session and loaded through the public code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eval.replicas import REPLICA_PRESETS, arabic_text, build_replica

SAMPLE_AR = Path(__file__).resolve().parent.parent / "eval" / "data" / "brussels_ar.txt"


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    monkeypatch.setenv("KHULASA_HOME", str(tmp_path / "khulasa-home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


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
    env.update(KHULASA_HOME=str(tmp_path / "khulasa-home"), HF_HOME=str(tmp_path / "hf-home"),
               HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8")
    return env


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(options, models=None, rest=None):
    """Launch the page (and REST) for `options` on a free loopback port; (app, url)."""
    from serve.web import Models, build_app, launch

    models = models or Models(options)
    app = build_app(options, models)
    port = free_port()
    launch(app, options, "127.0.0.1", port, models, rest, block=False)
    return app, f"http://127.0.0.1:{port}/"
