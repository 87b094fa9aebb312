"""A Document as the page's HTML: the key points card, the sentence pairs, a status line.

Every piece of untrusted text (the visitor's input and all model output) goes through
`html.escape` here, because Gradio's HTML component sets innerHTML without sanitising.
Attribute values we write are integers or words we made; no untrusted text reaches an
attribute. Style and behaviour live in static/page.css and static/page.js.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from ...models.checks import EXPLANATIONS, PLAIN, WARNINGS
from ...models.document import NOT_ARABIC, Document, Segment, SummarySentence
from ...models.evidence import evidence
from ...models.report import MT_NOTE, check_note, created_at, summary_made_by, title
from ...models.wordings import CHOSEN_NOTE

FLAG_LABELS = {
    "split_at_length_limit": "split at the length limit",
    "from_memory": "from memory",
    "not_arabic": "not Arabic",
    "unsupported": "no supporting source sentence",
    "low_confidence": "model unsure",
    "number_mismatch": "a number differs",
    "untranslated": "words left in Arabic",
    "repetition": "repeats itself",
    "length_ratio": "part may be missing",
    "quote_mismatch": "quotation lost",
    "retried": "second try",
    "unsupported_number": "number not in sources",
    "unsupported_name": "name not in text",
    "verified": "corrected by a reader",
    "other_wording": "wording you chose",
}
# What a marker that is no check's warning means (the checks' own say it in EXPLANATIONS).
FLAG_NOTES = {
    "verified": "A reader's corrected English for this sentence, kept by this server (not the "
    "model's output).",
    "other_wording": CHOSEN_NOTE,
}
GOOD_FLAGS = {"verified"}  # markers that are good news
# Markers that are neither fault nor praise: how the sentence was made.
NEUTRAL_FLAGS = {"retried", "split_at_length_limit", "other_wording"}
UNRELIABLE_SHARE = 0.5  # from this share of marked sentences (3+), the card warns of the article
WARNING_LABELS = {
    "mostly_non_arabic": "Most of this text is not Arabic: the translation may be poor.",
}

STATIC = Path(__file__).resolve().parent / "static"
CSS = (STATIC / "page.css").read_text(encoding="utf-8")
HEAD = (
    # Gradio scopes `css` to its container; the footer is outside it.
    "<style>@media print { footer { display: none !important; } }</style>\n<script>\n"
    + (STATIC / "page.js").read_text(encoding="utf-8")
    + "</script>"
)

QUIET_FLAGS = {"from_memory"}  # bookkeeping, not a warning: counted in the status line


def flag_markers(flags: list[str], evidence: dict[str, str] | None = None) -> str:
    """A quiet marker per flag; its explanation (and `evidence` for it, if any) on hover
    (title), on keyboard focus and on tap (the marker takes focus and is labelled with it)."""
    out = []
    for f in flags:
        if f in QUIET_FLAGS:
            continue
        label = escape(FLAG_LABELS.get(f, f))
        why = EXPLANATIONS.get(f) or FLAG_NOTES.get(f) or FLAG_LABELS.get(f, f)
        why = escape(f"{why} {evidence[f]}" if evidence and f in evidence else why)
        kind = "kh-ok" if f in GOOD_FLAGS else "kh-neutral" if f in NEUTRAL_FLAGS else ""
        out.append(_marker(label, why, kind))
    return "".join(out)


def _marker(label: str, why: str, kind: str = "") -> str:
    """One marker (escaped `label` and `why`): its reason on hover (title), and on focus and
    tap (it takes focus; the reason is also its accessible text)."""
    cls = f"kh-flag {kind}".strip()
    return (
        f'<span class="{cls}" tabindex="0" title="{why}">{label}'
        f'<span class="kh-sr"><span class="kh-sep">: </span>{why}</span></span>'
    )


def _pair(seg: Segment, offer: bool = False, panel: str = "") -> str:
    """One sentence pair on one row: number (not selectable), English, Arabic. `offer`: an
    "Other wordings" button (shown when the sentence is selected); `panel`: the other wordings
    open under it (that pair is the selected one)."""
    i = int(seg.index)
    if seg.english is None:
        english = '<span class="kh-pending">Translating…</span>'
    else:
        english = escape(seg.english) + flag_markers(
            seg.flags, evidence(seg.source, seg.english, seg.flags, seg.score)
        )
    toggle = (
        f'<button type="button" class="kh-ar-toggle" aria-expanded="false" '
        f'aria-controls="kh-ar-{i}">Arabic</button>'
    )
    if offer and seg.english and NOT_ARABIC not in seg.flags:
        toggle += (
            f'<button type="button" class="kh-more kh-noprint" data-wording="ask:{i}" '
            f'aria-label="Other wordings of sentence {i + 1}">Other wordings</button>'
        )
    marked = " kh-marked" if any(f in WARNINGS for f in seg.flags) else ""
    marked += " kh-hl" if panel else ""
    return (
        f'<div class="kh-pair{marked}" data-seg="{i}">'
        f'<span class="kh-num" data-n="{i + 1}" aria-hidden="true"></span>'
        f'<p class="kh-seg kh-en" lang="en" data-seg="{i}" tabindex="0">{english}{toggle}</p>'
        f'<p class="kh-seg kh-ar" id="kh-ar-{i}" lang="ar" dir="rtl" data-seg="{i}" '
        f'tabindex="0">{escape(seg.source)}</p>{panel}</div>'
    )


def _point(sentence: SummarySentence, doc: Document) -> str:
    sources = " ".join(str(int(i)) for i in sentence.sources)
    chips = "".join(
        f'<button type="button" class="kh-cite" data-sources="{int(i)}" '
        f'aria-label="Source: sentence {int(i) + 1}">{int(i) + 1}</button>'
        for i in sentence.sources
    )
    cites = f' <span class="kh-cites">{chips}</span>' if chips else ""
    note = check_note(sentence, doc)  # our words and sentence numbers only
    check = f' data-check="{escape(note)}"' if note else ""
    return (
        f'<li class="kh-point{" kh-marked" if note else ""}" tabindex="0" '
        f'data-sources="{sources}"{check}>{escape(sentence.text)}'
        f"{cites}{flag_markers(sentence.flags)}{_source_mark(note)}</li>"
    )


def _source_mark(note: str) -> str:
    """The warnings of a key point's sources, as one marker that says which sentence and why
    (shown on hover, focus and tap like every marker)."""
    if not note:
        return ""
    return _marker("check its sources", escape(note[0].upper() + note[1:] + "."), "kh-src")


def _marked(doc: Document) -> list[Segment]:
    return [s for s in doc.segments if any(f in WARNINGS for f in s.flags)]


def _unreliable(doc: Document) -> str:
    """A warning at the top of the card when most of the translation is marked."""
    marked = len(_marked(doc)) if doc.complete else 0
    if marked < 3 or marked / max(1, len(doc.segments)) < UNRELIABLE_SHARE:
        return ""
    return (
        f'<p class="kh-unreliable" role="note"><strong>{marked} of {len(doc.segments)} '
        "sentences are marked:</strong> the translation of this article is unreliable. Read it "
        "against the Arabic.</p>"
    )


def _check_list(doc: Document) -> str:
    """ "Check these sentences": each marked sentence, a chip that jumps to it and its reasons
    in plain words."""
    marked = _marked(doc) if doc.complete else []
    if not marked:
        return ""
    items = "".join(
        f'<li><button type="button" class="kh-cite" data-sources="{int(s.index)}" '
        f'aria-label="Go to sentence {int(s.index) + 1}">{int(s.index) + 1}</button> '
        f"{escape(', '.join(PLAIN[f] for f in WARNINGS if f in s.flags))}</li>"
        for s in marked
    )
    return (
        '<div class="kh-check" id="kh-check"><div class="kh-check-head"><h3>Check these '
        'sentences</h3><button type="button" class="kh-next" aria-describedby="kh-next-where">'
        'Next to check</button><span class="kh-sr" id="kh-next-where" aria-live="polite">'
        "</span></div>"
        f'<ul class="kh-check-list">{items}</ul></div>'
    )


COPY_BUTTONS = (
    '<div class="kh-actions">'
    '<button type="button" data-copy="points">Copy key points</button>'
    '<button type="button" data-copy="english">Copy English translation</button>'
    '<button type="button" data-copy="both">Copy both</button></div>'
)
VIEW_BUTTONS = (
    '<div class="kh-view" role="group" aria-label="Show">'
    '<button type="button" data-view="bilingual" aria-pressed="true">Arabic and English</button>'
    '<button type="button" data-view="english" aria-pressed="false">English only</button></div>'
)


def _card(doc: Document, waiting: str) -> str:
    """Key points first: the summary, how it was made, the machine-translation note. Until
    the key points exist the card is one line (on a phone it must not fill the screen)."""
    if not doc.summary and not doc.complete:
        return (
            '<section id="kh-summary" class="kh-card kh-card-waiting" '
            'aria-labelledby="kh-summary-title"><div class="kh-card-head"><h2 '
            'id="kh-summary-title">Key points</h2>'
            f'<span class="kh-how">{escape(waiting)}</span></div></section>'
        )
    if doc.summary:
        points = "".join(_point(s, doc) for s in doc.summary)
        body = f'<ol class="kh-points">{points}</ol>'
    else:
        body = f'<p class="kh-waiting">{escape(waiting)}</p>'
    return (
        '<section id="kh-summary" class="kh-card" aria-labelledby="kh-summary-title">'
        '<div class="kh-card-head"><h2 id="kh-summary-title">Key points</h2>'
        f'<span class="kh-how">{escape(summary_made_by(doc.meta))}</span></div>'
        f"{_unreliable(doc)}{body}{_check_list(doc)}"
        f'<p class="kh-note"><strong>{escape(MT_NOTE.split(":")[0])}:</strong>'
        f"{escape(MT_NOTE.split(':', 1)[1])}</p>{COPY_BUTTONS}</section>"
    )


def _print_head(doc: Document) -> str:
    """What a printed page starts with (hidden on screen): the title, where the article came
    from, its date and link, and when it was translated."""
    source = doc.meta.get("source") or {}
    where = [str(source[k]) for k in ("outlet", "date", "url") if source.get(k)]
    made = created_at(doc.meta)
    where.append(f"translated by machine {made}".strip())
    return (
        f'<header class="kh-print-head"><h1>{escape(title(doc))}</h1>'
        f"<p>{escape(' · '.join(where))}</p></header>"
    )


def render_results(
    doc: Document | None, waiting: str = "", offer: bool = False, panel: tuple[int, str] = (-1, "")
) -> str:
    """The reading area: the key points card, then the sentence pairs, then the models.
    `waiting`: what the card says while it has no key points yet. `offer`: each sentence
    offers other wordings; `panel`: (sentence index, the HTML of its other wordings)."""
    if doc is None:
        return ""
    paragraphs = "".join(
        '<div class="kh-para">'
        + "".join(_pair(s, offer, panel[1] if s.index == panel[0] else "") for s in p.segments)
        + "</div>"
        for p in doc.paragraphs
    )
    return (
        f'<div class="kh-results">{_print_head(doc)}{_card(doc, waiting)}'
        '<section class="kh-text" aria-labelledby="kh-text-title">'
        f'<div class="kh-text-head"><h2 id="kh-text-title">Translation</h2>{VIEW_BUTTONS}</div>'
        '<div class="kh-cols" aria-hidden="true"><span class="kh-col-en">English</span>'
        '<span class="kh-col-ar" lang="ar" dir="rtl">العربية</span></div>'
        f"{paragraphs}</section>{render_meta(doc)}</div>"
    )


def render_status(doc: Document | None, stage: str, state: str = "running", elapsed=None) -> str:
    """Progress and warnings above the results; `state` is running, done or stopped."""
    parts = []
    if doc is not None:
        segments = doc.segments
        done = sum(s.english is not None for s in segments)
        parts.append(
            f'<progress max="{len(segments)}" value="{done}" '
            'aria-label="Sentences translated"></progress>'
        )
        remembered = sum("from_memory" in s.flags for s in segments)
        memo = f" ({remembered} from memory)" if remembered else ""
        to_check = doc.meta.get("trust", {}).get("to_check", 0) if doc.complete else 0
        memo += f" · {to_check} to check (marked)" if to_check else ""
        parts.append(f"<span>{escape(stage)} {done} of {len(segments)} sentences{memo}</span>")
        marked = len(_marked(doc)) if doc.complete else 0
        if marked:  # to the card's list of them
            parts.append('<a class="kh-to-check" href="#kh-check">See which, first</a>')
    elif stage:
        parts.append(f"<span>{escape(stage)}</span>")
    if state != "idle":
        shown = f"{elapsed:.1f} s" if elapsed is not None else ""
        parts.append(f'<span class="kh-elapsed">{shown}</span>')
    for w in doc.meta.get("warnings", []) if doc is not None else []:
        parts.append(f'<span class="kh-warning">{escape(WARNING_LABELS.get(w, w))}</span>')
    cls = " kh-stopped" if state == "stopped" else ""
    return f'<div class="kh-status{cls}" data-state="{state}">' + "".join(parts) + "</div>"


def render_error(message: str) -> str:
    """A problem, in the reader's words, where the status goes (announced: role=alert)."""
    return (
        '<div class="kh-status kh-error" data-state="error" role="alert">'
        f"<strong>Not translated.</strong> {escape(message)}</div>"
    )


def render_count(max_chars: int) -> str:
    """The live character count under the input (page.js keeps it current)."""
    return f'<div class="kh-count" data-max="{int(max_chars)}">0 of {max_chars:,} characters</div>'


def render_collapsed(text: str) -> str:
    """The input, folded to one line after a run: its first words and its length."""
    words = text.split()
    first = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    return (
        '<div class="kh-collapsed"><span class="kh-label">Article:</span>'
        f'<span class="kh-first" lang="ar" dir="rtl">{escape(first)}</span>'
        f'<span class="kh-chars">{len(text):,} characters</span></div>'
    )


def render_collapsed_source(what: str) -> str:
    """The input while it is read: the file's name or the link."""
    return (
        '<div class="kh-collapsed"><span class="kh-label">Article:</span>'
        f'<span class="kh-first" dir="auto">{escape(what)}</span></div>'
    )


def render_meta(doc: Document | None) -> str:
    """How long it took, in plain words; the models and their settings behind "Details"."""
    if doc is None:
        return ""
    meta = doc.meta
    tr, su, ms = meta.get("translator", {}), meta.get("summarizer", {}), meta.get("timings_ms", {})
    plain = (
        f"Translated by machine in {ms.get('translate', 0) / 1000:.1f} s; key points in "
        f"{ms.get('summarize', 0) / 1000:.1f} s."
    )
    details = (
        f"Translated by {tr.get('model')} ({tr.get('backend')}, beams {tr.get('beams')}) · "
        f"key points: {su.get('model')}"
        f"{'' if su.get('mode') == su.get('model') else ' (' + str(su.get('mode')) + ')'} · "
        f"khulasa {meta.get('version')}"
    )
    return (
        f'<div class="kh-meta" id="kh-meta"><p>{escape(plain)}</p><details><summary>Details'
        f"</summary><p>{escape(details)}</p></details></div>"
    )
