"""The coverage digest as the Coverage tab's HTML: key points across the coverage with how
many stories report each and chips to every source sentence, the stories and their outlets,
what each article alone reports, articles left out, and each article's sentence pairs (folded).

What is shown is worked out here; the HTML is templates/digest.html, autoescaped (views.py),
as the page's is: every piece of untrusted text (visitors' articles, their names and outlets,
model output) is escaped there.
"""

from __future__ import annotations

import os

from ...models.digest.build import Digest, DigestDocument
from ...models.digest.report import (
    disagreement_words,
    no_key_points,
    points_made_by,
    story_source,
)
from ...models.report import MT_NOTE
from .render import marks
from .views import view

NAME_CHARS = 22  # a chip's outlet name is cut here (in the middle: both ends tell apart)
_SEPARATORS = "-_. "


def short_names(names: list[str]) -> list[str]:
    """Names that tell each document apart in a chip or a column: what the file names share
    at the start and the end (a date and a slug, ".txt") left out, a long one cut in the
    middle, and a number added to any that would still be the same."""
    bare = list(names)
    if len(bare) > 1:
        start = os.path.commonprefix(bare)
        start = start[: max(start.rfind(c) for c in _SEPARATORS) + 1] if start else ""
        end = os.path.commonprefix([n[::-1] for n in bare])[::-1]
        end = end[min((i for i, c in enumerate(end) if c in _SEPARATORS), default=len(end)) :]
        if all(len(n) > len(start) + len(end) for n in bare):
            bare = [n[len(start) : len(n) - len(end)] for n in bare]
    cut = [
        n if len(n) <= NAME_CHARS else n[: NAME_CHARS // 2 - 1] + "…" + n[-(NAME_CHARS // 2) :]
        for n in bare
    ]
    seen: dict[str, int] = {}
    out = []
    for n in cut:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _names(digest: Digest) -> dict[str, str]:
    """Each document's short name (short_names of its outlet, else its id), by id."""
    ids = [d.input.id for d in digest.documents]
    shown = short_names([d.input.outlet or d.input.id for d in digest.documents])
    return dict(zip(ids, shown, strict=True))


def _name(d: DigestDocument, digest: Digest) -> str:
    return _names(digest)[d.input.id]


def _position(digest: Digest, doc_id: str) -> int:
    return next(i for i, d in enumerate(digest.documents) if d.input.id == doc_id)


def _chip(digest: Digest, doc_id: str, segment: int) -> dict:
    k = _position(digest, doc_id)
    d = digest.documents[k]
    return {
        "doc": k,
        "seg": int(segment),
        "name": d.input.outlet or d.input.id,
        "label": f"{_name(d, digest)} {int(segment) + 1}",
    }


def _points(digest: Digest) -> list[dict]:
    out = []
    for p in digest.key_points:
        other = {(d, s) for d, s, _ in p.disagree}  # shown apart, as reporting it otherwise
        by_story: dict[int, list] = {}  # the copies of one story together, under its source
        for doc, s in (source for source in p.sources if source not in other):
            by_story.setdefault(digest.document(doc).story, []).append((doc, s))
        out.append(
            {
                "text": p.text,
                "cited": " ".join(f"{_position(digest, doc)}:{int(s)}" for doc, s in p.sources),
                "marks": marks(p.flags),
                "n": p.corroboration,
                "disagree": [
                    {
                        "outlet": digest.document(d).input.outlet or d,
                        "text": digest.english(d, s),
                        "what": ", ".join(what),
                        "chip": _chip(digest, d, s),
                    }
                    for d, s, what in p.disagree
                ],  # fmt: skip
                "sources": [
                    {
                        "source": story_source(digest, story, False),
                        "chips": [_chip(digest, d, s) for d, s in cited],
                    }
                    for story, cited in by_story.items()
                ],
            }
        )
    return out


def _grid(digest: Digest) -> dict | None:
    """Who reports which key point: a row per key point, a column per article read (off-topic
    ones left out), the sentence numbers where it does, a dash where it does not."""
    columns = [d for d in digest.documents if d.document is not None and "off_topic" not in d.flags]
    if not digest.key_points or len(columns) < 2:
        return None
    rows = [
        {
            "point": cut_words(p.text, GRID_WORDS),
            "text": p.text,
            "cells": [
                ", ".join(str(int(s) + 1) for doc, s in p.sources if doc == d.input.id) or "–"
                for d in columns
            ],
        }
        for p in digest.key_points
    ]
    return {
        "columns": [{"short": _name(d, digest), "name": d.input.outlet or d.input.id}
                    for d in columns],
        "rows": rows,
    }  # fmt: skip


GRID_WORDS = 60  # characters of a key point's words in the grid's row header


def cut_words(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _stories(digest: Digest) -> list[dict]:
    out = []
    for k, members in enumerate(digest.stories):
        docs = [digest.documents[d] for d in members]
        out.append(
            {
                "source": story_source(digest, k),
                "copies": f"{len(docs)} copies" if len(docs) > 1 else "1 article",
                "off": " · on another subject" if "off_topic" in docs[0].flags else "",
            }
        )
    return out


def _only_in(digest: Digest) -> list[dict]:
    return [
        {
            "k": k,
            "name": d.input.outlet or d.input.id,
            "off_topic": "off_topic" in d.flags,  # one line: an article on something else
            "items": [
                {
                    "i": int(i),
                    "english": d.document.segments[i].english or "",
                    "chip": _chip(digest, d.input.id, i),
                }
                for i in d.only_in
            ],
        }
        for k, d in enumerate(digest.documents)
        if d.document is not None and d.only_in
    ]


def _articles(digest: Digest) -> list[dict]:
    return [
        {
            "k": k,
            "name": d.input.outlet or d.input.id,
            "title": d.title or "",
            "language": "English, not translated" if d.language == "en" else "Arabic",
            "pairs": [
                {
                    "i": int(seg.index),
                    "english": seg.english or "",
                    "arabic": seg.source if seg.english != seg.source else "",
                    "marks": marks(seg.flags),
                }
                for seg in d.document.segments
            ],
        }
        for k, d in enumerate(digest.documents)
        if d.document is not None
    ]


def render_digest(digest: Digest | None) -> str:
    if digest is None:
        return ""
    counts = digest.meta["counts"]
    note_head, note_body = MT_NOTE.split(":", 1)
    return view("digest.html", "digest", {
        "summary": f"{counts['read']} articles ({counts['arabic']} Arabic, {counts['english']} "
        f"English) in {counts['stories']} stories · {points_made_by(digest.meta)}",
        "points": _points(digest),
        "disagreements": [
            {"words": disagreement_words(digest, found),
             "sentences": [dict(s, chip=_chip(digest, s["document"], s["segment"]))
                           for s in found["sentences"]]}
            for found in digest.disagreements
        ],  # fmt: skip
        "names": [
            {"arabic": name["arabic"], "used": name["used"],
             "n": len(name["variants"][name["used"]]),
             "rarer": [{"form": form, "chips": [_chip(digest, d, k) for d, k in places]}
                       for form, places in name["variants"].items() if form != name["used"]]}
            for name in digest.meta.get("names") or ()
        ],  # fmt: skip
        "no_points": no_key_points(digest),
        "note_head": note_head,
        "note_body": note_body,
        "grid": _grid(digest),
        "stories": _stories(digest),
        "only_in": _only_in(digest),
        "left_out": [
            {"id": d.input.id, "error": str(d.input.error)}
            for d in digest.documents
            if d.input.error is not None
        ],
        "articles": _articles(digest),
    })  # fmt: skip
