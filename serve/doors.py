"""The guard at the server's own doors, below Gradio's routes: an ASGI middleware (given to
the FastAPI app when it is made, Gradio's `app_kwargs`) for what no handler of ours sees:

- `/login`: wrong keys are counted per client; after LOGIN_FAILURES in LOGIN_WINDOW seconds
  the client is locked out (429 with Retry-After) until the window has passed.
- Gradio's upload route: counted by the request rate of every door (`--req-limit`; with no
  limit set, at most UPLOADS_PER_MINUTE a client), and its body cut off past the upload cap
  (413), whatever its Content-Length says.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque

LOGIN_FAILURES = 5
LOGIN_WINDOW = 600.0
UPLOADS_PER_MINUTE = 30


class LoginLockout:
    """Failed logins per client over a sliding window."""

    def __init__(self, failures: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW,
                 clock=time.monotonic):  # fmt: skip
        self.failures, self.window, self.clock = failures, window, clock
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            seen = self._seen.get(client)
            while seen and now - seen[0] > self.window:
                seen.popleft()
            if not seen:
                self._seen.pop(client, None)
                return 0.0
            return self.window - (now - seen[0]) if len(seen) >= self.failures else 0.0

    def failed(self, client: str) -> None:
        with self._lock:
            self._seen.setdefault(client, deque()).append(self.clock())


def _client(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


async def _answer(send, status: int, message: str, headers=()) -> None:
    body = json.dumps({"error": message, "detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class DoorGuard:
    """ASGI middleware: the login lockout and the upload guard (see the module's text)."""

    def __init__(self, app, limiter, upload_limiter, max_upload: int, lockout: LoginLockout):
        self.app, self.limiter, self.upload_limiter = app, limiter, upload_limiter
        self.max_upload, self.lockout = max_upload, lockout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        path = scope.get("path", "").rstrip("/")
        if path.endswith("/login"):
            return await self._login(scope, receive, send)
        if path.endswith("/gradio_api/upload") or path == "/upload":
            return await self._upload(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _login(self, scope, receive, send):
        client = _client(scope)
        wait = self.lockout.wait(client)
        if wait > 0:
            retry = str(int(wait) + 1)
            return await _answer(
                send, 429,
                f"Too many wrong keys from this address: try again in {retry} s.",
                [(b"retry-after", retry.encode())],
            )  # fmt: skip

        async def counted(message):
            if message["type"] == "http.response.start" and message["status"] in (400, 401):
                self.lockout.failed(client)
            await send(message)

        return await self.app(scope, receive, counted)

    async def _upload(self, scope, receive, send):
        client = _client(scope)
        if not (self.limiter.allow(client) and self.upload_limiter.allow(client)):
            return await _answer(send, 429, "Too many uploads: retry in a minute.")
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_upload:
            return await _answer(send, 413, self._too_large())
        seen = 0

        async def capped():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_upload:
                    raise _TooLarge
            return message

        started = False

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            return await self.app(scope, capped, watched)
        except _TooLarge:
            if not started:
                await _answer(send, 413, self._too_large())

    def _too_large(self) -> str:
        return f"Upload too large: at most {self.max_upload // 2**20} MiB."
