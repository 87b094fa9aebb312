"""`khulasa serve`'s server: the service (`service.py`) and the shared limits (`limits.py`)
with the page (`web/`) and the REST routes (`rest/`) on one port, and its stop."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass

import gradio as gr
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware

from .doors import UPLOADS_PER_MINUTE, DoorGuard, LoginLockout
from .limits import Gate, Guard, RateLimiter
from .rest.routes import build_router
from .service import Downloads, ModelPool, ServeOptions
from .web.page import build_app
from .web.render import CSS, HEAD, STATIC

SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif"]  # fmt: skip
SYSTEM_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


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
    # Gradio queues page events; each takes its turn in its handler (Gate.job, as REST jobs
    # do), so Gradio itself must not limit them (None) nor cap its line (the gate does).
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
        # Blue, not the default orange: white on it reaches 4.5:1 contrast. The system's own
        # faces (as the reading area's), not the bundled Source Sans Pro, whose semibold has
        # too few glyphs: bold labels would mix two typefaces.
        theme=gr.themes.Default(primary_hue="blue", font=SYSTEM_FONTS, font_mono=SYSTEM_MONO),
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
