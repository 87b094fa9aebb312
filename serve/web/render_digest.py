"""The coverage digest as the Coverage tab's HTML: key points across the coverage with how
many stories report each and chips to every source sentence, the stories and their outlets,
what each article alone reports, articles left out, and each article's sentence pairs (folded).

As in render.py, every piece of untrusted text (visitors' articles, their names and outlets,
model output) goes through `html.escape`; attributes hold only integers and our own words.
"""

from __future__ import annotations

from html import escape

from ...models.digest.build import Digest, DigestDocument
from ...models.digest.report import no_key_points, points_made_by, story_source
from ...models.report import MT_NOTE
from .render import flag_markers

NAME_CHARS = 22  # a chip's outlet name is cut here


def _name(d: DigestDocument) -> str:
    name = d.input.outlet or d.input.id
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


def _chip(digest: Digest, doc_id: str, segment: int) -> str:
    k = next(i for i, d in enumerate(digest.documents) if d.input.id == doc_id)
    d = digest.documents[k]
    label = f"{_name(d)} {segment + 1}"
    return (
        f'<button type="button" class="kh-cite kh-dcite" data-doc="{k}" data-seg="{int(segment)}" '
        f'aria-label="Source: {escape(d.input.outlet or d.input.id)}, sentence {segment + 1}">'
        f"{escape(label)}</button>"
    )


def _points(digest: Digest) -> str:
    if not digest.key_points:
        return f'<p class="kh-waiting">{escape(no_key_points(digest))}</p>'
    items = []
    for p in digest.key_points:
        keys = " ".join(
            f"{next(i for i, d in enumerate(digest.documents) if d.input.id == doc)}:{int(s)}"
            for doc, s in p.sources
        )
        by_story: dict[int, list] = {}  # the copies of one story together, under its source
        for doc, s in p.sources:
            by_story.setdefault(digest.document(doc).story, []).append((doc, s))
        sources = "".join(
            f'<span class="kh-dsource">{escape(story_source(digest, story, False))} '
            f'<span class="kh-cites">{"".join(_chip(digest, d, s) for d, s in cited)}</span></span>'
            for story, cited in by_story.items()
        )
        n = p.corroboration
        items.append(
            f'<li class="kh-point kh-dpoint" tabindex="0" data-sources="{keys}">'
            f"{escape(p.text)}{flag_markers(p.flags)}"
            f'<span class="kh-corr" title="Copies of one story count once">Reported '
            f"{'independently by ' + str(n) + ' sources' if n > 1 else 'by 1 source'}:</span>"
            f"{sources}</li>"
        )
    return '<ol class="kh-points">' + "".join(items) + "</ol>"


def _grid(digest: Digest) -> str:
    """Who reports which key point: a row per key point, a column per article read (off-topic
    ones left out), the sentence numbers where it does, a dash where it does not."""
    columns = [
        (k, d)
        for k, d in enumerate(digest.documents)
        if d.document is not None and "off_topic" not in d.flags
    ]
    if not digest.key_points or len(columns) < 2:
        return ""
    head = "".join(f'<th scope="col">{escape(_name(d))}</th>' for _, d in columns)
    rows = []
    for n, p in enumerate(digest.key_points, start=1):
        cells = []
        for _, d in columns:
            cited = [s for doc, s in p.sources if doc == d.input.id]
            cells.append(
                "<td>" + (", ".join(str(int(s) + 1) for s in cited) if cited else "–") + "</td>"
            )
        rows.append(f'<tr><th scope="row">{n}</th>{"".join(cells)}</tr>')
    return (
        '<section class="kh-dsection" aria-labelledby="kh-grid-title">'
        '<h2 id="kh-grid-title">Who reports which key point</h2><p class="kh-quiet">The '
        "sentence of each article that reports it; a dash where the article does not.</p>"
        '<div class="kh-grid-wrap" tabindex="0" role="region" aria-labelledby="kh-grid-title">'
        f'<table class="kh-grid"><thead><tr><th scope="col">Key point</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _stories(digest: Digest) -> str:
    rows = []
    for k, members in enumerate(digest.stories):
        docs = [digest.documents[d] for d in members]
        copies = f"{len(docs)} copies" if len(docs) > 1 else "1 article"
        off = " · on another subject" if "off_topic" in docs[0].flags else ""
        rows.append(
            f"<li><strong>Story {k + 1}</strong>: {escape(story_source(digest, k))} "
            f'<span class="kh-quiet">({copies}{off})</span></li>'
        )
    return (
        '<section class="kh-dsection" aria-labelledby="kh-stories-title">'
        '<h2 id="kh-stories-title">Stories</h2><p class="kh-quiet">Articles that are copies of '
        f"one story (a wire report republished) are grouped.</p><ul>{''.join(rows)}</ul></section>"
    )


def _only_in(digest: Digest) -> str:
    blocks = []
    for k, d in enumerate(digest.documents):
        if d.document is None or not d.only_in:
            continue
        segments = d.document.segments
        items = "".join(
            f'<li class="kh-point kh-dpoint" tabindex="0" data-sources="{k}:{int(i)}">'
            f"{escape(segments[i].english or '')}"
            f'<span class="kh-cites">{_chip(digest, d.input.id, i)}</span></li>'
            for i in d.only_in
        )
        name = escape(d.input.outlet or d.input.id)
        if "off_topic" in d.flags:  # one line: an article on something else is not news here
            blocks.append(
                f'<details class="kh-offtopic"><summary>{name}: on another subject '
                f'<span class="kh-quiet">({len(d.only_in)} sentences; it shares no reported fact '
                f"with the rest)</span></summary><ul>{items}</ul></details>"
            )
            continue
        blocks.append(f"<h3>Only in {name}</h3><ul>{items}</ul>")
    if not blocks:
        return ""
    return (
        '<section class="kh-dsection" aria-labelledby="kh-only-title">'
        '<h2 id="kh-only-title">What each article alone reports</h2>'
        + "".join(blocks)
        + "</section>"
    )


def _left_out(digest: Digest) -> str:
    failed = [d for d in digest.documents if d.input.error is not None]
    if not failed:
        return ""
    items = "".join(
        f"<li><strong>{escape(d.input.id)}</strong>: {escape(str(d.input.error))}</li>"
        for d in failed
    )
    return (
        '<section class="kh-dsection kh-left-out" aria-labelledby="kh-left-title">'
        f'<h2 id="kh-left-title">Left out</h2><ul>{items}</ul></section>'
    )


def _pair(k: int, seg) -> str:
    i = int(seg.index)
    arabic = seg.source if seg.english != seg.source else ""
    toggle = (
        f'<button type="button" class="kh-ar-toggle" aria-expanded="false" '
        f'aria-controls="kh-d{k}-ar-{i}">Arabic</button>'
        if arabic
        else ""
    )
    cls = "kh-pair" if arabic else "kh-pair kh-pair-en"
    return (
        f'<div class="{cls}" data-doc="{k}" data-seg="{i}">'
        f'<span class="kh-num" data-n="{i + 1}" aria-hidden="true"></span>'
        f'<p class="kh-seg kh-en" lang="en" tabindex="0">{escape(seg.english or "")}'
        f"{flag_markers(seg.flags)}{toggle}</p>"
        + (
            f'<p class="kh-seg kh-ar" id="kh-d{k}-ar-{i}" lang="ar" dir="rtl">{escape(arabic)}</p>'
            if arabic
            else ""
        )
        + "</div>"
    )


def _articles(digest: Digest) -> str:
    blocks = []
    for k, d in enumerate(digest.documents):
        if d.document is None:
            continue
        language = "English, not translated" if d.language == "en" else "Arabic"
        head = (
            f"{escape(d.input.outlet or d.input.id)} · {escape(d.title or '')} "
            f'<span class="kh-quiet">({language}, {len(d.document.segments)} sentences)</span>'
        )
        pairs = "".join(_pair(k, s) for s in d.document.segments)
        blocks.append(
            f'<details class="kh-article" data-doc="{k}"><summary>{head}</summary>{pairs}</details>'
        )
    return (
        '<section class="kh-dsection" aria-labelledby="kh-articles-title">'
        '<h2 id="kh-articles-title">The articles, sentence by sentence</h2>'
        + "".join(blocks)
        + "</section>"
    )


def render_digest(digest: Digest | None) -> str:
    if digest is None:
        return ""
    counts = digest.meta["counts"]
    summary = (
        f"{counts['read']} articles ({counts['arabic']} Arabic, {counts['english']} English) in "
        f"{counts['stories']} stories · {points_made_by(digest.meta)}"
    )
    note_head, note_body = MT_NOTE.split(":", 1)
    return (
        '<div class="kh-results kh-digest">'
        '<section id="kh-digest-summary" class="kh-card" aria-labelledby="kh-dpoints-title">'
        '<div class="kh-card-head"><h2 id="kh-dpoints-title">Key points across the coverage</h2>'
        f'<span class="kh-how">{escape(summary)}</span></div>'
        f"{_points(digest)}"
        f'<p class="kh-note"><strong>{escape(note_head)}:</strong>{escape(note_body)}</p></section>'
        f"{_grid(digest)}{_stories(digest)}{_only_in(digest)}{_left_out(digest)}"
        f"{_articles(digest)}</div>"
    )
