"""`POST /digest`: the coverage digest over REST. The body is a JSON array of documents
`{"id", "text", "title"?, "outlet"?, "date"?}`, or an object with that array as `documents`
(and `summarizer`, `points`, `api_key`). Limits: documents per digest, characters per document
(`--char-limit`, over it: that document's error) and in all (a 400 for the request)."""

from __future__ import annotations

from collections.abc import Callable

from ...models.digest.build import DIGEST_POINTS, DigestInput, check_inputs, make_digest
from ...models.errors import InputError
from ...models.glossary import parse_inline
from ..service import ModelPool, ServeOptions, request_glossary

ABOUT = ("title", "outlet", "date")
MAX_POINTS = 20


def digest_inputs(params: dict) -> list[DigestInput]:
    """The documents of a request; a document without text becomes that document's error,
    a request that is not a list of objects an InputError (400)."""
    documents = params.get("documents")
    if not isinstance(documents, list):
        raise InputError(
            "Invalid request: send a JSON array of documents, each "
            '{"id", "text", "title"?, "outlet"?, "date"?} (or {"documents": [...]})',
            "invalid_request",
        )
    out = []
    for k, item in enumerate(documents):
        if not isinstance(item, dict):
            raise InputError(
                f"Invalid request: documents[{k}] must be an object", "invalid_request"
            )
        raw_id = item.get("id")
        doc_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else str(k + 1)
        about = {f: item[f] for f in ABOUT if isinstance(item.get(f), str) and item[f].strip()}
        text = item.get("text")
        error = None
        if not isinstance(text, str):
            error = InputError(
                f"Document {doc_id} has no text field (a string).", "missing_text_field"
            )
            text = None
        out.append(DigestInput(doc_id, text, error=error, **about))
    return out


def points_of(params: dict) -> int:
    value = params.get("points", DIGEST_POINTS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_POINTS:
        raise InputError(
            f"Invalid request: points must be a whole number from 1 to {MAX_POINTS}",
            "invalid_request",
        )
    return value


def digest_job(params: dict, options: ServeOptions, pool: ModelPool) -> Callable[[], dict]:
    """Check the request now (400s before any wait); the model work to run in its turn."""
    items = digest_inputs(params)
    points = points_of(params)
    summarizer = params.get("summarizer") or None
    if summarizer is not None and not isinstance(summarizer, str):
        raise InputError("Invalid request: summarizer must be a string", "invalid_request")
    limits = options.digest_limits(options.char_limit)
    given = params.get("glossary") if isinstance(params, dict) else None
    parse_inline(given)  # a bad glossary is refused before any wait
    # Whole-request limits (too many documents, too long in all) before the job waits.
    check_inputs([DigestInput(i.id, i.text) for i in items], limits)

    def run() -> dict:
        pipeline = pool.get(None, summarizer, None)
        pinned = request_glossary(params, pipeline) if isinstance(params, dict) else None
        return make_digest(pipeline, items, points, limits, glossary=pinned).to_dict()

    return run
