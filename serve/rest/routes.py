"""REST on the page's server, LibreTranslate-compatible: `/translate`, `/detect`,
`/languages`, plus `/summarize` and `/health`, so LibreTranslate clients work unchanged.

Routes only map HTTP to calls. Every request is checked in this order: request rate (429),
body size while it is read (413), parameters (400), API key (403); then its model work waits
for its turn at the server's one gate (503 when the line is full).
Errors always have LibreTranslate's shape, `{"error": "..."}`, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ...models.errors import InputError, KhulasaError, ModelLoadError, ModelNotFound
from ...models.glossary import parse_inline
from ...models.reading.bounded import Cancelled
from ...models.text import check_unicode, detect_language
from ..admission import check_text
from ..limits import Busy, Gate, Guard, Refused
from ..metrics import CONTENT_TYPE
from ..service import (
    SOURCES,
    ModelPool,
    ServeOptions,
    public_name,
    request_glossary,
    translate_texts,
)
from ..suggest import DISABLED, suggest
from . import spec
from .digest import digest_job
from .files import FORMATS, FileDownloads, file_job
from .markup import translate_html

log = logging.getLogger("khulasa.rest")
LANGUAGES = [  # what really works: Arabic to English, and English passed through
    {"code": "ar", "name": "Arabic", "targets": ["en"]},
    {"code": "en", "name": "English", "targets": ["en"]},
]


ENGLISH_NOTE = "The text is English: summarised as it is, not translated."


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def reply(data, status: int = 200) -> Response:
    """JSON as LibreTranslate sends it (UTF-8, not ASCII-escaped); text that cannot be UTF-8
    (a lone surrogate echoed in a message) is escaped instead of failing."""
    try:
        content = json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        content = json.dumps(data).encode("ascii")
    return Response(content, status, media_type="application/json")


async def read_params(request: Request, limit: int, array_key: str | None = None) -> dict:
    """The JSON or form body as a dict, read no further than `limit` bytes. With `array_key`,
    a JSON array body is taken as that one field."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"Request body too large: at most {limit:,} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"Request body too large: at most {limit:,} bytes")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            params = json.loads(bytes(data))
        elif kind == "multipart/form-data":
            try:
                form = await _replayed(request, bytes(data)).form()
            except Exception as exc:  # no boundary, a cut part: starlette raises several kinds
                detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                raise ApiError(
                    400, f"Invalid request: the multipart body cannot be read ({detail})"
                ) from None
            params = {
                k: (form.getlist(k) if k == "q" and len(form.getlist(k)) > 1 else form.get(k))
                for k in form
            }
        else:  # application/x-www-form-urlencoded, LibreTranslate's other body
            fields = parse_qsl(bytes(data).decode("utf-8"), keep_blank_values=True, errors="strict")
            params = {}
            for key, value in fields:
                if key == "q" and "q" in params:
                    params["q"] = (
                        [*params["q"], value]
                        if isinstance(params["q"], list)
                        else [params["q"], value]
                    )
                else:
                    params[key] = value
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        what = (
            "not valid UTF-8"
            if isinstance(exc, UnicodeDecodeError)
            else "nested too deeply"
            if isinstance(exc, RecursionError)
            else "not valid JSON"
        )
        raise ApiError(400, f"Invalid request: the body is {what}") from None
    if array_key is not None and isinstance(params, list):
        params = {array_key: params}
    if not isinstance(params, dict):
        raise ApiError(400, "Invalid request: the JSON body must be an object")
    return params


def _replayed(request: Request, body: bytes) -> Request:
    """The request again, its body served from `body` (already read, within the limit), so
    Starlette's form parser reads it through the public Request API."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def texts_of(params: dict, options: ServeOptions) -> tuple[list[str], bool]:
    """`q` as a list of texts (and whether it was a list), within the limits."""
    q = params.get("q")
    if q is None:
        raise ApiError(400, "Invalid request: missing q parameter")
    is_list = isinstance(q, list)
    texts = q if is_list else [q]
    if not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "Invalid request: q must be a string or an array of strings")
    if is_list and len(texts) > options.batch_limit:
        raise ApiError(
            400,
            f"Invalid request: request ({len(texts)}) exceeds text limit ({options.batch_limit})",
        )
    chars = sum(len(t) for t in texts)
    if chars > options.char_limit:
        raise ApiError(
            400, f"Invalid request: request ({chars}) exceeds text limit ({options.char_limit})"
        )
    for t in texts:
        check_unicode(t, "q")
    return texts, is_list


def whole_number(value, name: str) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        raise ApiError(400, f"Invalid request: {name} must be a whole number") from None


def frontend(options: ServeOptions) -> dict:
    """`GET /frontend/settings` as LibreTranslate 1.9 answers it."""
    return {
        "apiKeys": options.api_keys is not None,
        "keyRequired": options.api_keys is not None,
        "charLimit": options.char_limit,
        "frontendTimeout": 500,
        "suggestions": options.suggestions,
        "filesTranslation": True,
        "supportedFilesFormat": [f".{f}" for f in FORMATS],
        "language": {
            "source": {"code": "ar", "name": "Arabic"},
            "target": {"code": "en", "name": "English"},
        },
    }


class Rest:
    """The routes' work, one method a route; `handle` applies the checks every route shares."""

    def __init__(self, options: ServeOptions, pool: ModelPool, gate: Gate, guard: Guard):
        self.options, self.pool, self.gate, self.guard = options, pool, gate, guard

    async def handle(self, request: Request, work, limit=None, array_key=None) -> Response:
        try:
            client = request.client.host if request.client else "unknown"
            if not self.guard.limiter.allow(client):
                raise Refused(self.guard.limiter.refusal(), 429, "too_many_requests",
                              self.guard.limiter.retry_after(client))  # fmt: skip
            params = await read_params(request, limit or self.options.max_body, array_key)
            key = params.get("api_key", request.query_params.get("api_key"))
            self.guard.check_key(client, key)  # 403, or 429 while this address is locked out
            return reply(await work(params))
        except ApiError as exc:
            return reply({"error": str(exc)}, exc.status)
        except Refused as exc:
            response = reply({"error": str(exc)}, exc.status)
            if exc.retry_after:
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except Busy as exc:
            return reply({"error": str(exc)}, 503)
        except (ModelNotFound, ModelLoadError) as exc:  # its message names server paths
            log.warning("model unavailable: %s", exc)
            return reply({"error": "That model is not available on this server"}, 400)
        except KhulasaError as exc:  # LibreTranslate's shape, and the one way in's code
            self.gate.refused(exc.code)
            return reply({"error": str(exc), "code": exc.code}, 400)
        except ClientDisconnect:
            log.info("client %s went away before its request was read", request.client)
            return Response(status_code=400)
        except Exception:
            log.exception("REST request failed")
            return reply({"error": "Internal error; the server log has the details"}, 500)

    async def model_job(self, fn, request: Request | None = None):
        """Run `fn` in a worker thread once the gate gives this job its turn. With `request`,
        `fn(cancel)` is told (its flag set) when the client goes away, so a read it runs is
        stopped rather than finished for nobody."""
        cancel = threading.Event()

        def run():
            with self.gate.job():
                if cancel.is_set():
                    raise Cancelled("the upload")
                return fn(cancel) if request is not None else fn()

        job = asyncio.ensure_future(run_in_threadpool(run))
        try:
            while request is not None and not job.done():
                await asyncio.wait({job}, timeout=0.25)
                if not job.done() and await request.is_disconnected():
                    cancel.set()
            return await job
        finally:
            cancel.set()

    async def translate(self, params: dict) -> dict:
        texts, is_list = texts_of(params, self.options)
        source, target, fmt = (
            params.get(k, d) for k, d in (("source", "auto"), ("target", "en"), ("format", "text"))
        )
        if source not in SOURCES:
            raise ApiError(400, f"{source} is not supported: sources are ar, en or auto")
        if target != "en":
            raise ApiError(400, f"{target} is not supported: the only target is en")
        if fmt not in ("text", "html"):
            raise ApiError(400, f"{fmt} format is not supported: use text or html")
        n_alt = whole_number(params.get("alternatives", 0), "alternatives")
        if not 0 <= n_alt <= self.options.alternatives_limit:
            raise ApiError(
                400,
                f"Invalid request: alternatives ({n_alt}) exceeds limit "
                f"({self.options.alternatives_limit})",
            )
        detected = [detect_language(t) for t in texts]
        src = [d["language"] if source == "auto" else source for d in detected]
        parse_inline(params.get("glossary"))  # a bad glossary is refused before any wait

        def run() -> dict:
            if fmt == "html":
                english = [self.translate_html(t, s) for t, s in zip(texts, src, strict=True)]
                alts = [[] for _ in texts]
            else:
                pinned = request_glossary(params, self.pool.get(None, "none", None))
                english, alts = translate_texts(self.pool, texts, src, n_alt, pinned)
            result: dict = {"translatedText": english if is_list else english[0]}
            if source == "auto":
                result["detectedLanguage"] = detected if is_list else detected[0]
            if n_alt:
                result["alternatives"] = alts if is_list else alts[0]
            return result

        return await self.model_job(run)

    def translate_html(self, html: str, source: str) -> str:
        return translate_html(
            html, lambda parts: translate_texts(self.pool, parts, [source] * len(parts))[0]
        )

    async def detect(self, params: dict) -> list:
        texts, _ = texts_of(params, self.options)
        return [detect_language(" ".join(texts))]

    async def summarize(self, params: dict) -> dict:
        """An Arabic text translated and summarised; an English one (`source: "en"`, or
        found English with `auto`, the default) summarised as it is, never sent to the
        translator, and the answer says so (`source`, `translated`)."""
        texts, is_list = texts_of(params, self.options)
        if is_list:
            raise ApiError(400, "Invalid request: /summarize takes one text in q")
        summarizer = params.get("summarizer") or None
        if summarizer is not None and not isinstance(summarizer, str):
            raise ApiError(400, "Invalid request: summarizer must be a string")
        source = params.get("source", "auto")
        if source not in SOURCES:
            raise ApiError(400, f"{source} is not supported: sources are ar, en or auto")
        text = texts[0]
        if source == "auto":
            source = detect_language(text)["language"]
        english = source == "en"
        check_text(text, self.options.char_limit, force=english, where="q",
                   fix_arabic="Send source en to summarise English text.")  # fmt: skip
        parse_inline(params.get("glossary"))  # a bad glossary is refused before any wait

        started = time.perf_counter()

        def run() -> dict:
            pipeline = self.pool.get(None, summarizer, None)
            pinned = request_glossary(params, pipeline)
            doc = (pipeline.summarize_english(text) if english
                   else pipeline.process(text, glossary=pinned))  # fmt: skip
            if not english:
                self.gate.finished("summarize", doc, time.perf_counter() - started)
            return {
                "translatedText": doc.translation,
                "source": source,
                "translated": not english,
                **({"note": ENGLISH_NOTE} if english else {}),
                "summary": [
                    {
                        "text": s.text,
                        "sources": s.sources,
                        "flags": s.flags,
                        "source_flags": s.source_flags,
                    }
                    for s in doc.summary
                ],
                "trust": doc.meta.get("trust", {}),
                "document": doc.to_dict(),
            }

        return await self.model_job(run)


def build_router(
    options: ServeOptions, pool: ModelPool, gate: Gate, guard: Guard, downloads: Path
) -> APIRouter:
    # Over 60 lines for a reason: one route after another, each a few lines.
    router = APIRouter()
    rest = Rest(options, pool, gate, guard)
    files = FileDownloads(downloads, options.keep_downloads)

    @router.post(
        "/translate_file",
        summary="Translate a file: .txt, .html, .docx; .pdf comes back as .docx",
        openapi_extra=spec.TRANSLATE_FILE,
    )
    async def translate_file(request: Request) -> Response:
        async def work(params: dict) -> dict:
            upload = params.get("file")
            if not hasattr(upload, "read"):
                raise ApiError(400, "Invalid request: missing file parameter")
            data = await upload.read()
            await upload.close()
            # Off the event loop: checking the file's kind opens a zip's list of files.
            run = await run_in_threadpool(
                file_job, params, upload, data, options, pool, files, str(request.base_url)
            )
            return await rest.model_job(run, request)

        return await rest.handle(request, work, limit=options.max_file_body)

    @router.get("/download_file/{name}", summary="A file /translate_file made")
    async def download_file(name: str) -> Response:
        path = files.path(name)
        if path is None:
            return reply({"error": "No such file (it may have expired)"}, 404)
        return FileResponse(path, filename=name.split(".", 1)[1])

    @router.post(
        "/translate",
        summary="Translate text (LibreTranslate-compatible)",
        openapi_extra=spec.TRANSLATE,
    )
    async def translate(request: Request) -> Response:
        return await rest.handle(request, rest.translate)

    @router.post("/detect", summary="Detect the language of a text", openapi_extra=spec.DETECT)
    async def detect(request: Request) -> Response:
        return await rest.handle(request, rest.detect)

    @router.get("/languages", summary="Languages this server translates")
    async def languages() -> Response:
        return reply(LANGUAGES)

    @router.post(
        "/summarize",
        summary="Translate and summarise an Arabic article (khulasa)",
        openapi_extra=spec.SUMMARIZE,
    )
    async def summarize(request: Request) -> Response:
        return await rest.handle(request, rest.summarize)

    @router.post(
        "/digest",
        summary="One English digest of many articles on one event (khulasa)",
        openapi_extra=spec.DIGEST,
    )
    async def digest(request: Request) -> Response:
        return await rest.handle(
            request,
            lambda params: rest.model_job(digest_job(params, options, pool)),
            limit=options.max_digest_body,
            array_key="documents",
        )

    @router.post("/suggest", summary="A reader's better English for one sentence (--suggestions)")
    async def suggest_route(request: Request) -> Response:
        async def work(params: dict) -> dict:
            if not options.suggestions:
                raise ApiError(403, DISABLED)
            client = request.client.host if request.client else "unknown"
            key = params.get("api_key", request.query_params.get("api_key"))
            try:
                number = await run_in_threadpool(
                    suggest, pool, params.get("q"), params.get("s"), client, key, guard
                )
            except InputError as exc:
                if exc.code == "too_many_suggestions":
                    raise ApiError(429, str(exc)) from None
                raise
            return {"success": True, "correction": number}

        return await rest.handle(request, work)

    @router.get("/frontend/settings", summary="What this server offers (LibreTranslate's shape)")
    async def frontend_settings() -> Response:
        return reply(frontend(options))

    @router.get("/health", summary="Loaded models; 200 when ready")
    async def health() -> Response:
        models = pool.models
        return reply(
            {
                "status": "ok",
                "translator": public_name(models.translator),
                "summarizer": public_name(models.summarizer),
                "backend": pool.default.translator.backend,
            }
        )

    @router.get("/metrics", summary="The server's figures, in Prometheus' text format")
    async def metrics(request: Request) -> Response:
        if guard.keys is not None:
            bearer = request.headers.get("authorization", "")
            key = bearer[7:].strip() if bearer.lower().startswith("bearer ") else None
            client = request.client.host if request.client else "unknown"
            try:
                guard.check_key(client, key or request.query_params.get("api_key"))
            except Refused as exc:
                response = reply({"error": str(exc)}, exc.status)
                if exc.retry_after:
                    response.headers["Retry-After"] = str(exc.retry_after)
                return response
        if gate.metrics is None:
            return reply({"error": "This server keeps no metrics"}, 404)
        return Response(gate.metrics.text(), media_type=CONTENT_TYPE)

    @router.get("/spec", include_in_schema=False)  # where LibreTranslate serves its spec
    async def openapi() -> Response:
        from fastapi.openapi.utils import get_openapi

        return reply(
            get_openapi(
                title="khulasa REST (LibreTranslate-compatible)", version="1", routes=router.routes
            )
        )

    return router
