"""Readers' corrections (`POST /suggest`, and the page's "Suggest a better English sentence"):
with `--suggestions`, a reader's English for one Arabic sentence is kept in the server's
sentence memory as a *verified* entry. From then on it wins over the model's output for that
sentence (the server's own translator, at its default settings), on every door, and the
sentence is flagged `verified`. Off by default; it needs `--memory`, and `--api-keys` unless
the operator says `--suggestions open`.

Accountability: every correction is recorded in the memory with its time, client address,
key id (a hash of the API key, never the key) and the English it replaced, so an operator can
list and undo it (`khulasa corrections`); a client may make at most SUGGESTIONS_PER_HOUR an
hour (limits.Guard)."""

from __future__ import annotations

from ..models.errors import InputError
from ..models.pipeline import segment
from ..models.text import check_unicode, normalize
from .limits import SUGGESTIONS_PER_HOUR, Guard, key_id

MAX_SUGGESTION = 2_000  # characters of one suggested English sentence
DISABLED = "Suggestions are disabled on this server."


def suggest(pool, q, s, client: str, key: str | None, guard: Guard) -> int:
    """Keep `s` as the English of the one Arabic sentence `q`, recorded with `client` and the
    key's id; the correction's id. InputError `too_many_suggestions` past the client's limit
    (the guard's, checked before anything is kept)."""
    if not isinstance(q, str) or not isinstance(s, str):
        raise InputError("Invalid request: q and s must be strings", "invalid_request")
    check_unicode(q, "q")
    check_unicode(s, "s")
    english = " ".join(normalize(s).split())
    if not english:
        raise InputError("Invalid request: s (the suggested English) is empty", "empty_input")
    if len(english) > MAX_SUGGESTION:
        raise InputError(
            f"Invalid request: s has {len(english):,} characters; at most {MAX_SUGGESTION:,}",
            "too_long",
        )
    segments = segment(q).segments
    if len(segments) != 1:
        raise InputError(
            f"Invalid request: q holds {len(segments)} sentences; suggest one sentence at a time",
            "invalid_request",
        )
    translator = pool.default.translator
    pieces = translator.pieces(segments[0].source)
    if len(pieces) != 1:
        raise InputError(
            "Invalid request: this sentence is longer than the model translates at once; it "
            "cannot take a suggestion",
            "too_long",
        )
    if not guard.suggestions.allow(client):
        raise InputError(
            f"Too many suggestions: at most {SUGGESTIONS_PER_HOUR} an hour from one address. "
            f"Retry later.",
            "too_many_suggestions",
        )
    return translator.suggest(pieces[0], english, client, key_id(key))
