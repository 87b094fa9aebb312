"""The door guard: an ASGI middleware in front of every route of the server (the page, Gradio's
own routes, REST, static files), for what must hold before any handler reads a byte:

- Every POST body is counted before it is held: a declared length over the cap is refused
  (413) before the body is read, and a body that passes the cap as it streams is cut off
  there. The cap: `max_upload` on Gradio's upload route, `max_body` on every other route
  (ServeOptions.max_request_body); each REST route keeps its own tighter one.
- Keys: on a keyed server, a client locked out for wrong keys (limits.Guard) gets 429 with
  Retry-After on every door before its body is read, unless it proved a key before; `/login`
  is read here (a small form) and its key counted, and a 401 from Gradio's own routes (no
  login) counts as a wrong key.
- Gradio's upload route: counted by the request rate of every door and at most
  UPLOADS_PER_MINUTE a client, at most `max_files` files a request.
- Gradio's JSON routes: a file given by link (a FileData whose path or url is http(s)) is
  refused unless the server fetches links (`--allow-urls`): Gradio would fetch it outside the
  fetch guard.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from .limits import UPLOADS_PER_MINUTE, Refused

__all__ = ["UPLOADS_PER_MINUTE", "DoorGuard"]
LOGIN_BODY = 64 * 1024  # a login form: a name and a key


def _client(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


async def _answer(send, status: int, message: str, headers=()) -> None:
    """A JSON answer; a 413 also closes the connection, so the rest of the body is not read."""
    body = json.dumps({"error": message, "detail": message}).encode()
    if status == 413:
        headers = [*headers, (b"connection", b"close")]
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


async def _refuse(send, refused: Refused) -> None:
    headers = [(b"retry-after", str(refused.retry_after).encode())] if refused.retry_after else []
    await _answer(send, refused.status, str(refused), headers)


def _declared_over(scope, cap: int) -> bool:
    """Whether the request's declared length (Content-Length) is over `cap`."""
    declared = dict(scope.get("headers") or []).get(b"content-length", b"")
    return declared.isdigit() and int(declared) > cap


class _TooLarge(Exception):
    pass


class _TooManyFiles(Exception):
    pass


def _links_in(value) -> bool:
    """Whether a Gradio payload holds a file given by link (http or https)."""
    if isinstance(value, dict):
        meta = value.get("meta")
        if isinstance(meta, dict) and meta.get("_type") == "gradio.FileData":
            path = value.get("path")  # what Gradio fetches (its `url` is where it serves it)
            if isinstance(path, str) and path.lower().startswith(("http://", "https://")):
                return True
        return any(_links_in(v) for v in value.values())
    if isinstance(value, list):
        return any(_links_in(v) for v in value)
    return False


class DoorGuard:
    """ASGI middleware: see the module's text."""

    def __init__(self, app, guard, max_upload: int, max_body: int, max_files: int,
                 allow_urls: bool):  # fmt: skip
        self.app, self.guard = app, guard
        self.max_upload, self.max_body, self.max_files = max_upload, max_body, max_files
        self.allow_urls = allow_urls

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        client = _client(scope)
        path = scope.get("path", "").rstrip("/")
        if path.endswith("/login"):
            return await self._login(scope, receive, send, client)
        wait = self.guard.locked(client)
        if wait and not self.guard.vouched(client):
            return await _refuse(send, Refused(
                f"Too many wrong keys from this address: try again in {wait} s.",
                429, "too_many_wrong_keys", wait,
            ))  # fmt: skip
        if path.endswith("/gradio_api/upload") or path == "/upload":
            return await self._upload(scope, receive, send, client)
        if "/gradio_api/" in path or path.startswith(("/run/", "/call/", "/queue/")):
            return await self._gradio(scope, receive, send, client)
        return await self._capped(scope, receive, send, self.max_body)

    async def _capped(self, scope, receive, send, cap: int, count_files: bytes = b""):
        """The app, its body cut off past `cap` bytes (413 at once by a declared length);
        with `count_files` (a multipart boundary), at most `max_files` parts."""
        if _declared_over(scope, cap):
            return await _answer(send, 413, self._too_large(cap))
        seen, parts, tail = 0, 0, b""

        async def capped():
            nonlocal seen, parts, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > cap:
                    raise _TooLarge
                if count_files:
                    window = tail + chunk
                    parts += window.count(count_files) - tail.count(count_files)
                    tail = window[-len(count_files) :]
                    if parts > self.max_files + 1:  # the closing delimiter counts once
                        raise _TooManyFiles
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
                await _answer(send, 413, self._too_large(cap))
        except _TooManyFiles:
            if not started:
                await _answer(send, 413, f"Too many files: at most {self.max_files} at once.")

    async def _read(self, scope, receive, cap: int) -> bytes | None:
        """The whole body, or None past `cap` bytes (by its declared length: before a byte
        of it is read)."""
        if _declared_over(scope, cap):
            return None
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return bytes(body)
            body += message.get("body", b"")
            if len(body) > cap:
                return None
            if not message.get("more_body"):
                return bytes(body)

    @staticmethod
    def _replay(body: bytes, receive):
        sent = False

        async def again():
            nonlocal sent
            if sent:
                return await receive()  # a disconnect, when it comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return again

    async def _login(self, scope, receive, send, client):
        body = await self._read(scope, receive, LOGIN_BODY)
        if body is None:
            return await _answer(send, 413, self._too_large(LOGIN_BODY))
        try:
            form = dict(parse_qsl(body.decode("utf-8", errors="replace")))
            self.guard.check_key(client, form.get("password"))
        except Refused as refused:
            if refused.status == 429:
                return await _refuse(send, refused)
        return await self.app(scope, self._replay(body, receive), send)

    async def _upload(self, scope, receive, send, client):
        if not (self.guard.limiter.allow(client) and self.guard.uploads.allow(client)):
            return await _answer(send, 429, "Too many uploads: retry in a minute.")
        headers = dict(scope.get("headers") or [])
        kind = headers.get(b"content-type", b"").decode("latin-1")
        boundary = kind.partition("boundary=")[2].split(";")[0].strip().strip('"')
        marker = b"--" + boundary.encode("latin-1") if boundary else b""
        return await self._capped(scope, receive, self._counted(send, client), self.max_upload,
                                  marker)  # fmt: skip

    async def _gradio(self, scope, receive, send, client):
        body = await self._read(scope, receive, self.max_body)
        if body is None:
            return await _answer(send, 413, self._too_large(self.max_body))
        if not self.allow_urls and b"http" in body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if _links_in(payload):
                return await _answer(
                    send, 400,
                    "This server does not fetch links: upload the file itself (the server's "
                    "operator can allow links with --allow-urls).",
                )  # fmt: skip
        return await self.app(scope, self._replay(body, receive), self._counted(send, client))

    def _counted(self, send, client):
        """`send`, counting a 401 (no login on a keyed server) as a wrong key."""

        async def counted(message):
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.guard.wrong_key(client)
            await send(message)

        return counted

    @staticmethod
    def _too_large(cap: int) -> str:
        size = f"{cap // 2**20} MiB" if cap >= 2**20 else f"{cap:,} bytes"
        return f"Request body too large: at most {size}."
