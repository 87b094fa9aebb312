"""REST on the page's server, LibreTranslate-compatible: `/translate`, `/detect`,
`/languages`, plus `/summarize` and `/health`, so LibreTranslate clients work unchanged.

Errors always have LibreTranslate's shape, `{"error": "..."}`: 400 bad parameters, 403 API
key, 429 request rate, 503 busy, 500 (never with a traceback).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from models.errors import KhulasaError
from models.pipeline import segment
from models.text import arabic_ratio

log = logging.getLogger("khulasa.rest")
LANGUAGES = [  # what really works: Arabic to English, and English passed through
    {"code": "ar", "name": "Arabic", "targets": ["en"]},
    {"code": "en", "name": "English", "targets": ["en"]},
]
SOURCES = {"ar", "en", "auto"}


def _body(properties: dict, required: list[str]) -> dict:
    """OpenAPI for a route that takes JSON or a form with these fields."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema}}},
        "responses": {"400": {"description": '{"error": "..."} bad parameters'},
                      "403": {"description": '{"error": "..."} API key missing or invalid'},
                      "429": {"description": '{"error": "..."} request rate over the limit'},
                      "503": {"description": '{"error": "..."} too many requests waiting'}}}


_Q = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
      "description": "Text, or an array of texts"}
_KEY = {"type": "string", "description": "Required when the server was given --api-keys"}
TRANSLATE_SPEC = _body({
    "q": _Q, "source": {"type": "string", "enum": ["ar", "en", "auto"], "default": "auto"},
    "target": {"type": "string", "enum": ["en"], "default": "en"},
    "format": {"type": "string", "enum": ["text", "html"], "default": "text"},
    "alternatives": {"type": "integer", "default": 0,
                     "description": "Further translations from the beam"},
    "api_key": _KEY}, ["q"])
DETECT_SPEC = _body({"q": _Q, "api_key": _KEY}, ["q"])
SUMMARIZE_SPEC = _body({"q": {"type": "string", "description": "Arabic article"},
                        "summarizer": {"type": "string", "description": "preset, hub id or "
                                       "directory (default: the server's)"},
                        "api_key": _KEY}, ["q"])


@dataclass(frozen=True)
class RestOptions:
    char_limit: int = 20_000  # per request, all q together
    batch_limit: int = 32  # items in a q array
    req_limit: int = 0  # requests per minute per client; 0 = no limit
    alternatives_limit: int = 5
    api_keys: frozenset[str] | None = None  # when set, a key is required


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class RateLimiter:
    """Requests per minute per client address, over a sliding minute."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._seen: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            seen = self._seen[client]
            while seen and now - seen[0] > 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return False
            seen.append(now)
            return True


class Slots:
    """At most `concurrency` model jobs at once and `queue_size` waiting; beyond, busy."""

    def __init__(self, concurrency: int, queue_size: int):
        self._sem = threading.Semaphore(concurrency)
        self._waiting = 0
        self._queue_size = queue_size
        self._lock = threading.Lock()

    def run(self, fn, *args):
        with self._lock:
            if self._waiting >= self._queue_size:
                raise ApiError(503, "Server busy: too many requests are waiting. Retry later.")
            self._waiting += 1
        self._sem.acquire()
        with self._lock:
            self._waiting -= 1
        try:
            return fn(*args)
        finally:
            self._sem.release()


def detect(text: str) -> list[dict]:
    """Script-based detection: Arabic letters mean `ar`, Latin letters `en` (the only two this
    server handles). Confidence is the share of letters in that script, 0-100."""
    ratio = arabic_ratio(text)
    letters = sum(ch.isalpha() for ch in text)
    if not letters:
        return [{"confidence": 0.0, "language": "ar"}]
    if ratio >= 0.5:
        return [{"confidence": round(ratio * 100, 1), "language": "ar"}]
    latin = sum(ch.isascii() and ch.isalpha() for ch in text) / letters
    return [{"confidence": round(latin * 100, 1), "language": "en"}]


class _HtmlText(HTMLParser):
    """Splits HTML into markup kept verbatim and text nodes to translate."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[tuple[str, str]] = []  # ("markup" | "text" | "raw", content)
        self._raw = 0

    def handle_starttag(self, tag, attrs):
        self.parts.append(("markup", self.get_starttag_text()))
        if tag in ("script", "style"):
            self._raw += 1

    def handle_startendtag(self, tag, attrs):
        self.parts.append(("markup", self.get_starttag_text()))

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._raw:
            self._raw -= 1
        self.parts.append(("markup", f"</{tag}>"))

    def handle_data(self, data):
        self.parts.append(("raw" if self._raw else "text", data))

    def handle_comment(self, data):
        self.parts.append(("markup", f"<!--{data}-->"))

    def handle_decl(self, decl):
        self.parts.append(("markup", f"<!{decl}>"))


class Api:
    """The route handlers' work, separate from HTTP so it can be tested directly."""

    def __init__(self, models, options: RestOptions, concurrency: int, queue_size: int):
        self.models = models
        self.options = options
        self.slots = Slots(concurrency, queue_size)
        self.limiter = RateLimiter(options.req_limit)

    def pipeline(self, summarizer: str | None = None):
        opts = self.models.options
        return self.models.get(opts.translator, summarizer or "none", opts.beams)

    def translate_texts(self, texts: list[str], source: str) -> list[str]:
        """English for each text (Arabic translated, English passed through, "" for empty)."""
        out = list(texts)
        todo = [i for i, t in enumerate(texts)
                if t.strip() and (source == "ar" or detect(t)[0]["language"] == "ar")]
        if todo:
            results = self.pipeline().process_many([texts[i] for i in todo], summary=False)
            for i, doc in zip(todo, results, strict=True):
                out[i] = "" if isinstance(doc, KhulasaError) else doc.translation
        return out

    def translate_html(self, html: str, source: str) -> str:
        parser = _HtmlText()
        parser.feed(html)
        parser.close()
        texts = [content for kind, content in parser.parts if kind == "text"]
        english = iter(self.translate_texts(texts, source))
        out = []
        for kind, content in parser.parts:
            if kind == "text":
                new = next(english)
                lead = content[:len(content) - len(content.lstrip())]
                trail = content[len(content.rstrip()):]
                out.append(escape(lead + new.strip() + trail if new != content else content,
                                  quote=False))
            else:
                out.append(content)
        return "".join(out)

    def alternatives(self, text: str, n: int) -> list[str]:
        """n further translations of `text`: each sentence's k-th best, joined."""
        translator = self.pipeline().translator
        inner = getattr(translator, "inner", translator)
        doc = segment(text)
        paragraphs = []
        for k in range(1, n + 1):
            paras = []
            for p in doc.paragraphs:
                words = []
                for seg in p.segments:
                    for hyps in inner.translate_nbest(inner.pieces(seg.source), n + 1):
                        words.append(hyps[min(k, len(hyps) - 1)])
                paras.append(" ".join(words))
            paragraphs.append("\n\n".join(paras))
        return paragraphs


def _as_list(q) -> tuple[list[str], bool]:
    if isinstance(q, list):
        if not all(isinstance(x, str) for x in q):
            raise ApiError(400, "Invalid request: q must be a string or an array of strings")
        return q, True
    if isinstance(q, str):
        return [q], False
    raise ApiError(400, "Invalid request: missing q parameter")


async def _params(request: Request) -> dict:
    """JSON body, or form fields (a repeated `q` becomes an array)."""
    kind = request.headers.get("content-type", "")
    if "application/json" in kind:
        try:
            data = await request.json()
        except ValueError:
            raise ApiError(400, "Invalid request: the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Invalid request: the JSON body must be an object")
        return data
    form = await request.form()
    data = {}
    for key in form:
        values = form.getlist(key)
        data[key] = values if key == "q" and len(values) > 1 else values[0]
    return data


def build_router(api: Api) -> APIRouter:
    router = APIRouter()
    opts = api.options

    def guard(request: Request, params: dict) -> None:
        client = request.client.host if request.client else "unknown"
        if not api.limiter.allow(client):
            raise ApiError(429, f"Too many requests: the limit is {opts.req_limit} per minute")
        if opts.api_keys is not None and params.get("api_key") not in opts.api_keys:
            raise ApiError(403, "Invalid API key" if params.get("api_key") else
                           "Visit the server's administrator to obtain an API key "
                           "(the api_key parameter is required)")

    def check_q(params: dict) -> tuple[list[str], bool]:
        if "q" not in params:
            raise ApiError(400, "Invalid request: missing q parameter")
        texts, is_list = _as_list(params["q"])
        if is_list and len(texts) > opts.batch_limit:
            raise ApiError(400, f"Invalid request: request ({len(texts)}) exceeds text limit "
                                f"({opts.batch_limit})")
        chars = sum(len(t) for t in texts)
        if chars > opts.char_limit:
            raise ApiError(400, f"Invalid request: request ({chars}) exceeds text limit "
                                f"({opts.char_limit})")
        return texts, is_list

    async def handle(request: Request, work) -> JSONResponse:
        try:
            params = await _params(request)
            guard(request, params)
            return JSONResponse(await work(params))
        except ApiError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except KhulasaError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except Exception:
            log.exception("REST request failed")
            return JSONResponse({"error": "Internal error; the server log has the details"},
                                status_code=500)

    @router.post("/translate", summary="Translate text (LibreTranslate-compatible)",
                 openapi_extra=TRANSLATE_SPEC)
    async def translate(request: Request) -> JSONResponse:
        async def work(params: dict) -> dict:
            texts, is_list = check_q(params)
            source = str(params.get("source", "auto"))
            target = str(params.get("target", "en"))
            fmt = str(params.get("format", "text"))
            if source not in SOURCES:
                raise ApiError(400, f"{source} is not supported: sources are ar, en or auto")
            if target != "en":
                raise ApiError(400, f"{target} is not supported: the only target is en")
            if fmt not in ("text", "html"):
                raise ApiError(400, f"{fmt} format is not supported: use text or html")
            try:
                n_alt = int(params.get("alternatives", 0) or 0)
            except (TypeError, ValueError):
                raise ApiError(400, "Invalid request: alternatives must be an integer") from None
            if not 0 <= n_alt <= opts.alternatives_limit:
                raise ApiError(400, f"Invalid request: alternatives ({n_alt}) exceeds limit "
                                    f"({opts.alternatives_limit})")
            detected = [detect(t)[0] for t in texts]
            src = [d["language"] if source == "auto" else source for d in detected]

            def run() -> dict:
                if fmt == "html":
                    english = [api.translate_html(t, s) for t, s in zip(texts, src, strict=True)]
                else:
                    english = list(texts)
                    for lang in ("ar", "en"):
                        idx = [i for i, s in enumerate(src) if s == lang]
                        for i, e in zip(idx, api.translate_texts([texts[i] for i in idx], lang),
                                        strict=True):
                            english[i] = e
                result: dict = {"translatedText": english if is_list else english[0]}
                if source == "auto":
                    result["detectedLanguage"] = detected if is_list else detected[0]
                if n_alt:
                    alts = [api.alternatives(t, n_alt) if s == "ar" and t.strip() else []
                            for t, s in zip(texts, src, strict=True)]
                    result["alternatives"] = alts if is_list else alts[0]
                return result

            return await run_in_threadpool(api.slots.run, run)

        return await handle(request, work)

    @router.post("/detect", summary="Detect the language of a text", openapi_extra=DETECT_SPEC)
    async def detect_route(request: Request) -> JSONResponse:
        async def work(params: dict):
            texts, _ = check_q(params)
            return detect(" ".join(texts))

        return await handle(request, work)

    @router.get("/languages", summary="Languages this server translates")
    async def languages() -> JSONResponse:
        return JSONResponse(LANGUAGES)

    @router.post("/summarize", summary="Translate and summarise an Arabic article (khulasa)",
                 openapi_extra=SUMMARIZE_SPEC)
    async def summarize(request: Request) -> JSONResponse:
        async def work(params: dict) -> dict:
            texts, is_list = check_q(params)
            if is_list:
                raise ApiError(400, "Invalid request: /summarize takes one text in q")
            summarizer = params.get("summarizer") or api.models.options.summarizer

            def run() -> dict:
                pipeline = api.models.get(api.models.options.translator, summarizer,
                                          api.models.options.beams)
                doc = pipeline.process(texts[0])
                return {"translatedText": doc.translation,
                        "summary": [{"text": s.text, "sources": s.sources}
                                    for s in doc.summary],
                        "document": doc.to_dict()}

            return await run_in_threadpool(api.slots.run, run)

        return await handle(request, work)

    @router.get("/health", summary="Loaded models; 200 when ready")
    async def health() -> JSONResponse:
        o = api.models.options
        return JSONResponse({"status": "ok", "translator": o.translator,
                             "summarizer": o.summarizer, "backend": o.backend})

    @router.get("/spec", include_in_schema=False)  # where LibreTranslate serves its spec
    async def openapi() -> JSONResponse:
        from fastapi.openapi.utils import get_openapi

        return JSONResponse(get_openapi(title="khulasa REST (LibreTranslate-compatible)",
                                        version="1", routes=router.routes))

    return router
