"""`khulasa serve`'s server: the service (`service.py`) and the shared limits (`limits.py`)
with the page (`web/`) and the REST routes (`rest/`) on one port, and its stop."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..models.errors import InputError
from .connections import BACKLOG, IDLE_SECONDS, guarded_protocol, raise_descriptor_limit
from .doors import DoorGuard
from .limits import Gate, Guard
from .metrics import CountRequests, Metrics
from .rest.routes import build_router
from .results import Results
from .service import Downloads, ModelPool, ServeOptions
from .web.page import build_app
from .web.render import CSS, HEAD, STATIC

GRACE_SECONDS = 2  # how long a stop waits for open connections to finish

SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif"]  # fmt: skip
SYSTEM_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


@dataclass
class Server:
    """A running server: `url`, and `close()` to stop it and delete its files."""

    app: object  # the page (gr.Blocks)
    url: str
    pool: ModelPool
    gate: Gate
    guard: Guard
    downloads: Downloads
    http: HttpServer | None = None

    def close(self) -> None:
        self.app.close()  # the page's queue, then the HTTP server (HttpServer.close)
        if self.http is not None and self.http.thread.is_alive():
            self.http.close()  # in case the page's close stopped short of it
        self.downloads.close()
        self.pool.close()


class HttpServer:
    """uvicorn serving the app in a thread, with the bounds of connections.py."""

    def __init__(self, app, options: ServeOptions):
        raise_descriptor_limit()
        config = uvicorn.Config(
            app,
            host=options.host,
            port=options.port,
            log_level="warning",
            http=guarded_protocol(options.trusted_proxies),
            timeout_keep_alive=IDLE_SECONDS,
            backlog=BACKLOG,  # connections taken at one accept: each holds a descriptor
            # Client addresses come from X-Forwarded-For only when the operator names the
            # proxies; by default nobody is trusted.
            proxy_headers=bool(options.trusted_proxies),
            forwarded_allow_ips=list(options.trusted_proxies),
            lifespan="on",
            # A stop waits this long for open streams (a page's event stream stays open).
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="khulasa-http")
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise InputError(
                    f"Cannot serve on {options.host}:{options.port}: the server did not start. "
                    "Fix: pick another port with --port, or stop what is using it.",
                    "port_unavailable",
                )
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=GRACE_SECONDS + 5)


def _stop_on_sigterm() -> None:
    """SIGTERM (how systemd and docker stop a service) stops the server as Ctrl-C does: its
    files are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def launch(options: ServeOptions, pool: ModelPool | None = None, block: bool = True) -> Server:
    """Load the models, then serve the page and the REST routes on one port: one app, the
    door guard (doors.py) in front of every route, served by uvicorn with the bounds of
    connections.py."""
    pool = pool or ModelPool(options)
    gate = Gate(options.concurrency, options.queue_size)
    guard = Guard(options)
    gate.metrics = pool.metrics = Metrics(gate, pool.shared_fronts)
    downloads = Downloads(options.keep_downloads)
    results = Results(downloads.root, options.keep_results)
    downloads.also.append(results.sweep)
    page = build_app(options, pool, gate, guard, downloads, results)
    # Gradio queues page events; each takes its turn in its handler (Gate.job, as REST jobs
    # do), so Gradio itself must not limit them (None) nor cap its line (the gate does).
    page.queue(default_concurrency_limit=None, max_size=None)
    page.max_threads = max(40, options.concurrency + options.queue_size + 8)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        DoorGuard,
        guard=guard,
        max_upload=options.max_file_body,
        max_body=options.max_request_body,
        max_files=options.digest_docs,
        allow_urls=options.allow_urls,
    )
    app.add_middleware(CountRequests, metrics=gate.metrics)  # outermost: every answer counted
    app.include_router(build_router(options, pool, gate, guard, downloads.root))
    # The page's Arabic face, shipped with the package (no font from the network).
    app.mount("/khulasa-static/fonts", StaticFiles(directory=STATIC / "fonts"), "khulasa-fonts")
    gr.mount_gradio_app(
        app,
        page,
        path="/",
        server_name=options.host,
        server_port=options.port,
        css=CSS,
        head=HEAD,
        # Blue, not the default orange: white on it reaches 4.5:1 contrast. The system's own
        # faces (as the reading area's), not the bundled Source Sans Pro, whose semibold has
        # too few glyphs: bold labels would mix two typefaces.
        theme=gr.themes.Default(primary_hue="blue", font=SYSTEM_FONTS, font_mono=SYSTEM_MONO),
        allowed_paths=[str(downloads.root)],
        show_error=True,
        auth=guard.login if options.api_keys is not None else None,
        auth_message="This server needs an API key: enter any name and your key.",
        max_file_size=options.file_limit,
        ssr_mode=False,
    )

    def start() -> Server:
        http = HttpServer(app, options)
        host = "localhost" if options.host in ("0.0.0.0", "::") else options.host
        url = f"http://{f'[{host}]' if ':' in host else host}:{http.port}/"
        page.server, page.is_running = http, True  # page.close() stops its queue, then this
        page.server_port, page.local_url = http.port, url
        return Server(page, url, pool, gate, guard, downloads, http)

    if not block:
        return start()
    _stop_on_sigterm()  # before the port opens: a SIGTERM at any point is a clean stop
    running = None
    try:
        running = start()
        print(f"khulasa: serving on {running.url} (Ctrl-C stops)", flush=True)
        while running.http.thread.is_alive():
            running.http.thread.join(0.5)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM
        print("khulasa: stopping", flush=True)
    finally:
        if running is not None:
            running.close()
        downloads.close()
    return running
