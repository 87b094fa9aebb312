"""The server behind `khulasa serve`: its options, the pool of loaded pipelines, the one
limit on model jobs shared by every door (page, page API, REST), request rate per client,
and launching the page with the REST routes on one port.

Doors: `web.py` builds the page, `rest.py` maps HTTP to calls; both take their pipelines
and their turn here.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from khulasa.models.bounded import ReadBudget
from khulasa.models.errors import InputError, OptionError
from khulasa.models.factory import build_pipeline
from khulasa.models.options import ModelOptions, check_beams, check_positive
from khulasa.models.pipeline import Pipeline
from khulasa.models.presets import PRESETS, names

log = logging.getLogger("khulasa.serve")
MODEL_JOBS = "models"  # the Gradio concurrency id of every event that runs the models
EXAMPLE = Path(__file__).resolve().parent / "examples" / "brussels_ar.txt"
SWEEP_EVERY = 60.0  # seconds between sweeps of expired downloads, at most


@dataclass(frozen=True)
class ServeOptions:
    """Everything `khulasa serve` is told. Checks itself on creation."""

    models: ModelOptions = field(default_factory=ModelOptions)
    host: str = "127.0.0.1"
    port: int = 7860
    max_chars: int = 20_000  # one page input
    concurrency: int = 1  # model jobs at once, all doors together
    queue_size: int = 16  # model jobs waiting, all doors together
    summary_sentences: int = 3
    char_limit: int = 20_000  # REST: characters in one request's q
    batch_limit: int = 32  # REST: texts in one q array
    alternatives_limit: int = 5
    req_limit: int = 0  # requests per minute per client, every door; 0 = no limit
    api_keys: frozenset[str] | None = None  # when set, every door needs a key
    trusted_proxies: tuple[str, ...] = ()  # whose X-Forwarded-For names the client
    keep_downloads: int = 3600  # seconds a page download (or upload) is kept at most
    digest_docs: int = 20  # coverage digest: documents in one digest (page and REST)
    digest_chars: int = 100_000  # coverage digest: characters of all its documents
    allow_urls: bool = False  # the page fetches links (under the fetch guard) only when set
    file_limit: int = 5 * 2**20  # REST /translate_file: bytes of one file
    suggestions: bool = False  # readers' corrections kept in the sentence memory (--memory)
    suggestions_open: bool = False  # and taken without API keys (--suggestions open)
    allow_loopback_urls: bool = False  # tests only: the project's loopback servers
    read: ReadBudget = field(default_factory=ReadBudget)  # each file or link read

    @property
    def fetch_policy(self):
        from khulasa.models.fetch import FetchPolicy

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
        for name in ("alternatives_limit", "req_limit"):
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

    def digest_limits(self, per_document: int):
        from khulasa.models.digest import DigestLimits

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

    def __init__(self, options: ServeOptions):
        self.options = options
        self.models = options.models
        self._pipelines: dict[tuple, Pipeline] = {}  # one per choice: located and built once
        self._lock = threading.Lock()
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
                self._pipelines[key] = build_pipeline(options, mark_memory=False)
            return self._pipelines[key]


def public_name(spec: str) -> str:
    """What visitors are shown of a model: a preset's name or a hub id as given; a model in
    a local folder by the folder's name, never the server's path."""
    path = Path(spec).expanduser()
    if spec not in PRESETS and (path.is_absolute() or spec.startswith(".") or path.exists()):
        return path.name or spec
    return spec


class Busy(Exception):
    """Every model slot is taken and the waiting line is full."""


class Gate:
    """One limit on model jobs for every door: at most `concurrency` run at once and at most
    `queue_size` wait. Page events wait in Gradio's queue (which counts them), REST jobs
    here; `full()` adds both, so the (concurrency + queue_size + 1)-th job from any door is
    refused."""

    def __init__(self, concurrency: int, queue_size: int):
        self.concurrency = concurrency
        self.queue_size = queue_size
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._rest = 0  # REST jobs running or waiting
        self.page_jobs = lambda: 0  # set by launch: page jobs queued or running in Gradio

    def load(self) -> int:
        return self._rest + self.page_jobs()

    def full(self) -> bool:
        return self.load() >= self.concurrency + self.queue_size

    def describe(self) -> str:
        return (
            f"Server busy: {self.load()} jobs are running or waiting (at most "
            f"{self.concurrency} at once and {self.queue_size} waiting). Retry in a "
            f"minute."
        )

    @contextmanager
    def rest_job(self):
        """A REST job's turn: Busy at once when the line is full, else wait for a slot."""
        with self._lock:
            if self.full():
                raise Busy(self.describe())
            self._rest += 1
        try:
            with self.slot():
                yield
        finally:
            with self._lock:
                self._rest -= 1

    @contextmanager
    def slot(self):
        """One of the `concurrency` model slots (page jobs take it inside their handler)."""
        self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()


class RateLimiter:
    """Requests per minute per client address over a sliding minute, for every door. Entries
    expire: memory holds only the clients seen in the last minute."""

    def __init__(self, per_minute: int, window: float = 60.0, clock=time.monotonic):
        self.per_minute = per_minute
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._seen)

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = self.clock()
        with self._lock:
            if now >= self._next_sweep:  # drop clients idle for a whole window
                self._seen = {c: q for c, q in self._seen.items() if now - q[-1] <= self.window}
                self._next_sweep = now + self.window / 4
            seen = self._seen.setdefault(client, deque())
            while seen and now - seen[0] > self.window:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return False
            seen.append(now)
            return True

    def refusal(self) -> str:
        return f"Too many requests: the limit is {self.per_minute} per minute. Retry later."


class Guard:
    """API keys and request rate, the same for every door."""

    def __init__(self, options: ServeOptions):
        self.keys = options.api_keys
        self.limiter = RateLimiter(options.req_limit)
        self._logins: dict[str, str] = {}  # page login name -> the key it last gave
        self._lock = threading.Lock()

    def key_ok(self, key) -> bool:
        return self.keys is None or (isinstance(key, str) and key in self.keys)

    def login(self, username: str, password: str) -> bool:
        """The page's login (Gradio auth): any name, an API key as the password. The key a
        name last logged in with is remembered, for the record of that visitor's
        corrections."""
        ok = self.key_ok(password)
        if ok:
            with self._lock:
                self._logins[username] = password
        return ok

    def key_of(self, username: str | None) -> str | None:
        with self._lock:
            return self._logins.get(username) if username else None


class Downloads:
    """The server's files for visitors: one folder per page run (its downloads) and
    `files/` (what /translate_file made), each deleted `keep` seconds after it was written,
    by a sweep every SWEEP_EVERY seconds at most, and all of them when the server stops."""

    def __init__(self, keep: int):
        self.keep = keep
        self.root = Path(tempfile.mkdtemp(prefix="khulasa-downloads-"))
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
                    if old.name == "files" or now - old.stat().st_mtime <= self.keep:
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

    def close(self) -> None:
        self._stop.set()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Server:
    """A running server: `url`, and `close()` to stop it and delete its files."""

    app: object
    url: str
    pool: ModelPool
    gate: Gate
    guard: Guard
    downloads: Downloads

    def close(self) -> None:
        self.app.close()
        self.downloads.close()


def _stop_on_sigterm() -> None:
    """SIGTERM (how systemd and docker stop a service) stops the server as Ctrl-C does: its
    files are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def launch(options: ServeOptions, pool: ModelPool | None = None, block: bool = True) -> Server:
    """Load the models, then serve the page and the REST routes on one port."""

    import gradio as gr
    from fastapi.staticfiles import StaticFiles
    from starlette.middleware import Middleware

    from .doors import UPLOADS_PER_MINUTE, DoorGuard, LoginLockout
    from .render import CSS, HEAD, STATIC
    from .rest import build_router
    from .web import build_app

    pool = pool or ModelPool(options)
    gate = Gate(options.concurrency, options.queue_size)
    guard = Guard(options)
    downloads = Downloads(options.keep_downloads)
    app = build_app(options, pool, gate, guard, downloads)
    doors = Middleware(
        DoorGuard,
        limiter=guard.limiter,
        upload_limiter=RateLimiter(UPLOADS_PER_MINUTE),
        max_upload=options.max_file_body,
        lockout=LoginLockout(),
    )
    # Gradio queues page events; their model slot is taken in the handler (Gate.slot), so
    # Gradio itself must not limit them (None) nor cap its line (the gate does, below).
    app.queue(default_concurrency_limit=None, max_size=None)
    # Client addresses come from X-Forwarded-For only when the operator names the proxies
    # (uvicorn reads this when the server starts); by default nobody is trusted.
    os.environ["FORWARDED_ALLOW_IPS"] = ",".join(options.trusted_proxies)
    server, local_url, _ = app.launch(
        server_name=options.host,
        server_port=options.port or None,
        prevent_thread_lock=True,
        css=CSS,
        head=HEAD,
        # Blue, not the default orange: white on it reaches 4.5:1 contrast.
        theme=gr.themes.Default(primary_hue="blue"),
        allowed_paths=[str(downloads.root)],
        show_error=True,
        quiet=True,
        auth=guard.login if options.api_keys is not None else None,
        auth_message="This server needs an API key: enter any name and your key.",
        max_file_size=options.file_limit,
        app_kwargs={"middleware": [doors]},
        max_threads=max(40, options.concurrency + options.queue_size + 8),
        share=False,
    )
    _share_the_gate(app, gate)
    server.include_router(build_router(options, pool, gate, guard, downloads.root))
    # The page's Arabic face, shipped with the package (no font from the network).
    server.mount("/khulasa-static/fonts", StaticFiles(directory=STATIC / "fonts"), "khulasa-fonts")
    url = local_url or f"http://{options.host}:{options.port}/"
    if block:
        _stop_on_sigterm()
        print(f"khulasa: serving on {url} (Ctrl-C stops)", flush=True)
        try:
            app.block_thread()
        finally:
            downloads.close()
    return Server(app, url, pool, gate, guard, downloads)


def _share_the_gate(app, gate: Gate) -> None:
    """Count Gradio's model events in the gate, and refuse a page event with Gradio's own
    "queue is full" answer when the gate is full."""
    queue = app._queue

    def page_jobs() -> int:
        events = queue.event_queue_per_concurrency_id.get(MODEL_JOBS)
        return len(events.queue) + events.current_concurrency if events else 0

    gate.page_jobs = page_jobs
    push = queue.push

    async def gated_push(body, request, username):
        fn = app.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is not None and fn.concurrency_id == MODEL_JOBS and gate.full():
            return False, f"Queue is full. {gate.describe()}", "queue_full"
        return await push(body, request, username)

    queue.push = gated_push
