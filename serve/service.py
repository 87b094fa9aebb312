"""The service behind every door of `khulasa serve` (the page, its API, REST): the server's
options, the pool of loaded pipelines, translating a list of texts through it, the files kept
for visitors, and what a visitor is told when something fails. The doors (`web/`, `rest/`)
are adapters over it; `launch.py` puts them on one port; `limits.py` holds the shared gate,
keys and rate.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..models.digest.build import DigestLimits
from ..models.errors import (
    InputError,
    KhulasaError,
    ModelLoadError,
    ModelNotFound,
    OptionError,
)
from ..models.factory import build_pipeline
from ..models.options import ModelOptions, check_beams, check_positive
from ..models.pipeline import Pipeline
from ..models.presets import PRESETS, names
from ..models.reading.bounded import ReadBudget
from ..models.reading.fetch import FetchPolicy

log = logging.getLogger("khulasa.serve")
EXAMPLE = Path(__file__).resolve().parent / "examples" / "brussels_ar.txt"
SWEEP_EVERY = 60.0  # seconds between sweeps of expired downloads, at most
SOURCES = ("ar", "en", "auto")  # what a REST client may say its text is
ENGINES = ("local", "ray")  # where `serve` runs the models


@dataclass(frozen=True)
class ServeOptions:
    """Everything `khulasa serve` is told. Checks itself on creation."""

    models: ModelOptions = field(default_factory=ModelOptions)
    host: str = "127.0.0.1"
    port: int = 7860
    max_chars: int = 20_000  # one page input
    concurrency: int = 8  # model jobs at once, all doors together (their sentences share batches)
    queue_size: int = 16  # model jobs waiting, all doors together
    summary_sentences: int = 3
    char_limit: int = 20_000  # REST: characters in one request's q
    batch_limit: int = 32  # REST: texts in one q array
    alternatives_limit: int = 5
    req_limit: int = 0  # requests per minute per client, every door; 0 = no limit
    api_keys: frozenset[str] | None = None  # when set, every door needs a key
    trusted_proxies: tuple[str, ...] = ()  # whose X-Forwarded-For names the client
    keep_downloads: int = 3600  # seconds a page download (or upload) is kept at most
    keep_results: int = 3600  # seconds a page result keeps its address (?r=ID); 0: none kept
    digest_docs: int = 20  # coverage digest: documents in one digest (page and REST)
    digest_chars: int = 100_000  # coverage digest: characters of all its documents
    allow_urls: bool = False  # the page fetches links (under the fetch guard) only when set
    file_limit: int = 5 * 2**20  # REST /translate_file: bytes of one file
    suggestions: bool = False  # readers' corrections kept in the sentence memory (--memory)
    suggestions_open: bool = False  # and taken without API keys (--suggestions open)
    allow_loopback_urls: bool = False  # tests only: the project's loopback servers
    replicas: bool = False  # the models are replicas with random weights: the page says so
    read: ReadBudget = field(default_factory=ReadBudget)  # each file or link read
    batch_window: int = 10  # ms a shared model round waits for other jobs' sentences; 0: none
    engine: str = "local"  # where the models run: this process, or Ray Serve deployments
    ray_address: str | None = None  # a Ray cluster (ray://HOST:10001 or auto); None: local
    ray_replicas: int = 1  # replicas of each deployment (the least, with autoscaling)
    ray_max_replicas: int = 0  # autoscaling up to this many replicas; 0: a fixed count
    limits_storage: str = "memory://"  # the request rate and lockouts: this process or Redis

    @property
    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(allow_loopback=self.allow_loopback_urls)

    def __post_init__(self):
        if not 0 <= self.port <= 65535:
            raise OptionError(f"--port must be between 1 and 65535, not {self.port}.")
        for name in (
            "max_chars",
            "concurrency",
            "queue_size",
            "summary_sentences",
            "char_limit",
            "batch_limit",
            "keep_downloads",
            "digest_docs",
            "digest_chars",
        ):
            check_positive(f"--{name.replace('_', '-')}", getattr(self, name), False)
        if self.engine not in ENGINES:
            raise OptionError(f"--engine must be one of {', '.join(ENGINES)}, not {self.engine!r}.")
        check_positive("--ray-replicas", self.ray_replicas, False)
        if self.ray_max_replicas and self.ray_max_replicas < self.ray_replicas:
            raise OptionError(
                f"--ray-max-replicas ({self.ray_max_replicas}) is below --ray-replicas "
                f"({self.ray_replicas}). Fix: raise it, or 0 for a fixed count."
            )
        for name in ("alternatives_limit", "req_limit", "keep_results", "batch_window"):
            if getattr(self, name) < 0:
                raise OptionError(f"--{name.replace('_', '-')} must be 0 or more.")
        if self.suggestions and not self.models.memory:
            raise OptionError(
                "--suggestions keeps readers' corrections in the sentence memory. Fix: also "
                "pass --memory PATH."
            )
        if self.suggestions and self.api_keys is None and not self.suggestions_open:
            raise OptionError(
                "--suggestions lets a reader change the English every visitor sees; without "
                "--api-keys anyone could. Fix: add --api-keys FILE, or say --suggestions open "
                "to take corrections from anyone (each is recorded with its address and can "
                "be undone: khulasa corrections)."
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise OptionError(
                    f"--trusted-proxy {proxy!r} is not an IP address or "
                    f"network (e.g. 10.0.0.5 or 10.0.0.0/24)."
                ) from None

    @property
    def max_body(self) -> int:
        """Largest request body REST reads: every text at its limit, 4 bytes a character in
        UTF-8 (6 escaped in JSON), plus room for the other fields."""
        return self.char_limit * 6 + self.batch_limit * 64 + 64 * 1024

    @property
    def max_file_body(self) -> int:
        """Largest body POST /translate_file reads: the file, and room for the form."""
        return self.file_limit + 64 * 1024

    @property
    def max_digest_body(self) -> int:
        """Largest body POST /digest reads: all documents at the total limit, escaped, plus
        room for each document's other fields."""
        return self.digest_chars * 6 + self.digest_docs * 1024 + 64 * 1024

    @property
    def max_request_body(self) -> int:
        """Largest body any route reads, the page's included (every input at its limit,
        escaped, plus room): the door guard refuses a longer one before it is read."""
        page = max(self.max_chars, self.digest_chars) * 6 + 64 * 1024
        return max(self.max_body, self.max_digest_body, page)

    def digest_limits(self, per_document: int) -> DigestLimits:
        return DigestLimits(self.digest_docs, per_document, self.digest_chars)


def check_port_free(host: str, port: int) -> None:
    """OptionError naming the fix when `port` is taken (checked before any model loads)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise InputError(
                f"Cannot listen on {host}:{port}: {exc.strerror}. Fix: pick "
                f"another port with --port, or stop what is using it.",
                "port_unavailable",
            ) from None


class ModelPool:
    """The loaded pipelines. The server's own pair is located and loaded (or fails, with the
    fix) before the page is served; presets picked on the page load on first use, once."""

    def __init__(self, options: ServeOptions, setup=None):
        self.options = options
        self.models = options.models
        # setup(pipeline or model) -> it, applied to what is built (the load bench's forced
        # lengths; in Ray replicas too)
        self.setup = setup
        self._pipelines: dict[tuple, Pipeline] = {}  # one per choice: located and built once
        self._lock = threading.Lock()
        self.metrics = None  # the server's figures (metrics.Metrics), set by launch
        self.default = self.get(None, None, None)  # located first: a missing model fails fast

    def own(self, kind: str) -> str:
        """The server's own model of `kind` (translator or summarizer), as it was given."""
        return self.models.translator if kind == "translator" else self.models.summarizer

    def offered(self, kind: str) -> list[str]:
        """What a visitor may pick, by public name: the server's own model and the presets,
        nothing else (a visitor must not make the server load arbitrary paths or hub ids)."""
        return list(dict.fromkeys([public_name(self.own(kind)), *names(kind)]))

    def _choice(self, choice: str | None, kind: str) -> str:
        """The model behind a visitor's choice (None or "" = the server's own)."""
        own = self.own(kind)
        if not choice or choice in (own, public_name(own)):
            return own
        if choice in names(kind):
            return choice
        raise InputError(
            f"{kind.capitalize()} {choice!r} is not offered by this server; "
            f"choose one of: {', '.join(self.offered(kind))}.",
            "not_offered",
        )

    def get(self, translator: str | None, summarizer: str | None, beams: int | None) -> Pipeline:
        """The pipeline for a visitor's choice (None or "" = the server's own)."""
        translator = self._choice(translator, "translator")
        summarizer = self._choice(summarizer, "summarizer")
        beams = check_beams(beams) if beams else self.models.beams
        key = (translator, summarizer, beams)
        with self._lock:  # not on every request: locating reads the model cache from disk
            if key not in self._pipelines:
                options = self.models.with_(
                    translator=translator, summarizer=summarizer, beams=beams
                )
                self._pipelines[key] = self._build(options)
            return self._pipelines[key]

    def _build(self, options: ModelOptions) -> Pipeline:
        """A pipeline on this server's engine: the models in this process, their batches
        shared by every job running at once (--batch-window), or Ray Serve deployments."""
        if self.options.engine == "ray":
            from .ray_tier import ray_pipeline

            pipeline = ray_pipeline(options, self.options, self.setup)
        else:
            pipeline = build_pipeline(options, mark_memory=False)
            if self.options.batch_window > 0:
                from ..models.batching import shared

                pipeline = shared(pipeline, self.options.batch_window / 1000)
        return self.setup(pipeline) if self.setup else pipeline

    def close(self) -> None:
        """Stop what the pool started elsewhere (Ray Serve deployments)."""
        if self.options.engine == "ray":
            from .ray_tier import shutdown

            shutdown()

    def shared_fronts(self) -> list:
        """The shared-batch fronts of the loaded pipelines (their rounds go to /metrics)."""
        with self._lock:
            pipelines = list(self._pipelines.values())
        fronts = []
        for p in pipelines:
            t = p.translator
            for front in (getattr(t, "inner", None), t, p.summarizer):
                if hasattr(front, "mixed") and front not in fronts:
                    fronts.append(front)
        return fronts


def public_name(spec: str) -> str:
    """What visitors are shown of a model: a preset's name or a hub id as given; a model in
    a local folder by the folder's name, never the server's path."""
    path = Path(spec).expanduser()
    if spec not in PRESETS and (path.is_absolute() or spec.startswith(".") or path.exists()):
        return path.name or spec
    return spec


KEPT_APART = {"files", "results"}  # folders of the root with a keep of their own


class Downloads:
    """The server's files for visitors: one folder per page run (its downloads) and
    `files/` (what /translate_file made), each deleted `keep` seconds after it was written,
    by a sweep every SWEEP_EVERY seconds at most, and all of them when the server stops."""

    def __init__(self, keep: int):
        self.keep = keep
        self.root = Path(tempfile.mkdtemp(prefix="khulasa-downloads-"))
        self.also: list = []  # other sweeps on the same beat (kept results)
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_often, daemon=True,
                                         name="khulasa-downloads-sweep")  # fmt: skip
        self._sweeper.start()

    def folder(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.root))

    def sweep(self) -> None:
        """Delete what has been kept longer than `keep` seconds."""
        now = time.time()
        for folder in (self.root, self.root / "files"):
            try:
                entries = list(folder.iterdir())
            except OSError:
                continue
            for old in entries:
                try:
                    if old.name in KEPT_APART or now - old.stat().st_mtime <= self.keep:
                        continue
                except OSError:
                    continue
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)

    def _sweep_often(self) -> None:
        every = min(SWEEP_EVERY, max(1.0, self.keep / 4))
        while not self._stop.wait(every):
            self.sweep()
            for also in self.also:
                also()

    def close(self) -> None:
        self._stop.set()
        shutil.rmtree(self.root, ignore_errors=True)


def request_glossary(params: dict, pipeline: Pipeline):
    """A REST request's `glossary` (inline pinned spellings) over the server's own, or None
    for the server's own (models/glossary.py; refused with the problem named)."""
    from ..models.glossary import parse_inline

    given = parse_inline(params.get("glossary"), "glossary") if "glossary" in params else None
    return given.over(pipeline.glossary) if given else None


def translate_texts(
    pool: ModelPool, texts: list[str], sources: list[str], alternatives: int = 0,
    glossary=None,
) -> tuple[list[str], list[list[str]]]:  # fmt: skip
    """English for each text (Arabic translated, English and empty texts passed through),
    and `alternatives` further translations of each Arabic one, all in shared batches;
    `glossary`: pinned spellings over the server's (None: the server's)."""
    english, alts = list(texts), [[] for _ in texts]
    todo = [i for i, t in enumerate(texts) if t.strip() and sources[i] == "ar"]
    if not todo:
        return english, alts
    pipeline = pool.get(None, "none", None)
    docs = pipeline.process_many(
        [texts[i] for i in todo], summary=False, alternatives=alternatives, glossary=glossary
    )
    if pool.metrics is not None:
        done = [d for d in docs if not isinstance(d, KhulasaError)]
        pool.metrics.sentences.inc(sum(len(d.segments) for d in done))
    for i, doc in zip(todo, docs, strict=True):
        if isinstance(doc, KhulasaError):
            english[i] = ""
            continue
        english[i] = doc.translation
        alts[i] = [
            "\n\n".join(
                " ".join(s.alternatives[k] for s in p.segments) for p in doc.paragraphs
            ).strip()
            for k in range(alternatives)
        ]
    return english, alts


def reader_message(exc: Exception) -> str:
    """What a visitor is told: our errors as their message, except those naming server
    internals (model paths, caches); anything else as a generic one. Details go to the log."""
    if isinstance(exc, (ModelNotFound, ModelLoadError)):
        log.warning("model unavailable: %s", exc)
        return (
            "That model is not available on this server right now. Choose another in "
            "Options, or ask the server's operator."
        )
    if isinstance(exc, KhulasaError):
        return str(exc)
    log.error("processing failed", exc_info=exc)
    return (
        "Something went wrong on the server while translating this text; the server log "
        "has the details. Try again, and report it if it happens again."
    )
