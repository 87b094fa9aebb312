"""A Document as the page's HTML: the key points card, the sentence pairs, a status line.

What is shown is worked out here; the HTML is templates/page.html, autoescaped (views.py):
every piece of untrusted text (the visitor's input and all model output) is escaped there,
because Gradio's HTML component sets innerHTML without sanitising. Style and behaviour live
in static/page.css and static/page.js.
"""

from __future__ import annotations

from pathlib import Path

from ...models.checks import EXPLANATIONS, PLAIN, WARNINGS, harm
from ...models.copies import WHAT, parts, plain_text
from ...models.document import NOT_ARABIC, Document, Segment, SummarySentence
from ...models.evidence import evidence, reasons
from ...models.report import MT_NOTE, check_note, created_at, no_summary, summary_made_by, title
from ...models.wordings import CHOSEN_NOTE
from .views import Markup, view

FLAG_LABELS = {
    "split_at_length_limit": "split at the length limit",
    "from_memory": "from memory",
    "not_arabic": "not Arabic",
    "unsupported": "no supporting source sentence",
    "low_confidence": "model unsure",
    "negation_mismatch": "meaning may be reversed",
    "number_mismatch": "a number differs",
    "name_mismatch": "a name differs",
    "untranslated": "words left in Arabic",
    "repetition": "repeats itself",
    "length_ratio": "part may be missing",
    "quote_mismatch": "quotation lost",
    "retried": "second try",
    "unsupported_number": "number not in sources",
    "unsupported_name": "name not in text",
    "verified": "corrected by a reader",
    "other_wording": "wording you chose",
    "sources_disagree": "sources disagree",
    "glossary_applied": "glossary applied",
    "glossary_not_applied": "glossary term not applied",
    "from_desk_memory": "from the desk's memory",
}
# What a marker that is no check's warning means (the checks' own say it in EXPLANATIONS).
FLAG_NOTES = {
    "verified": "A reader's corrected English for this sentence, kept by this server (not the "
    "model's output).",
    "other_wording": CHOSEN_NOTE,
    "glossary_applied": "A pinned spelling (the glossary) is used here: another of the model's "
    "wordings, or the model's words for the term replaced.",
    "from_desk_memory": "The desk's own translation of this sentence, from its translation "
    "memory (imported TMX), not the model's output.",
    "sources_disagree": "Another source reports this otherwise (another polarity or other "
    "numbers): it is not counted as corroboration. Read each side under Sources disagree.",
}
GOOD_FLAGS = {"verified", "from_desk_memory"}  # markers that are good news
# Markers that are neither fault nor praise: how the sentence was made.
NEUTRAL_FLAGS = {"retried", "split_at_length_limit", "other_wording", "glossary_applied"}
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

QUIET_FLAGS = {"from_memory"}
WARNING_LABELS_SHOWN = {
    FLAG_LABELS[f] for f in WARNINGS
}  # said in words under the sentence  # bookkeeping, not a warning: counted in the status line


def marks(flags: list[str], evidence: dict[str, str] | None = None) -> list[dict]:
    """A quiet marker per flag: its label, its explanation (and `evidence` for it, if any)
    and its kind."""
    out = []
    for f in sorted(flags, key=lambda f: harm([f])):  # the most harmful first
        if f in QUIET_FLAGS:
            continue
        why = EXPLANATIONS.get(f) or FLAG_NOTES.get(f) or FLAG_LABELS.get(f, f)
        why = f"{why} {evidence[f]}" if evidence and f in evidence else why
        kind = "kh-ok" if f in GOOD_FLAGS else "kh-neutral" if f in NEUTRAL_FLAGS else ""
        out.append({"label": FLAG_LABELS.get(f, f), "why": why, "kind": kind})
    return out


def _pair(seg: Segment, offer: bool = False, panel: str = "", names=None) -> dict:
    """One sentence pair on one row: number (not selectable), English, Arabic. `offer`: an
    "Other wordings" button (shown when the sentence is selected); `panel`: the other wordings
    open under it (that pair is the selected one). A warning's reason and evidence are shown
    in words under the English (`reasons`), not only on hover: its marker is the label."""
    english = seg.english
    found = evidence(seg.source, english, seg.flags, seg.score) if english is not None else None
    shown = [
        dict(m, why="") if m["label"] in WARNING_LABELS_SHOWN else m
        for m in (marks(seg.flags, found) if english is not None else [])
    ]
    return {
        "i": int(seg.index),
        "english": english,
        "source": seg.source,
        "marks": shown,
        "reasons": reasons(seg, names),
        "pin": pin_offer(seg, names),
        "offer": bool(offer and english and NOT_ARABIC not in seg.flags),
        "marked": any(f in WARNINGS for f in seg.flags),
        "panel": Markup(panel),
    }


def pin_offer(seg: Segment, names) -> dict | None:
    """For a sentence whose name differs: the article's usual rendering of that name, which
    the reader may pin ("Use “Kerry” everywhere": a line of the pinned spellings)."""
    if seg.english is None or "name_mismatch" not in seg.flags:
        return None
    for name in names or ():
        other = any(seg.index in ix for f, ix in name["variants"].items() if f != name["used"])
        if other or seg.index in name.get("missing", ()):
            return {"en": name["used"], "line": f"{name['arabic']} = {name['used']}"}
    return None


def _point(sentence: SummarySentence, doc: Document) -> dict:
    return {
        "text": sentence.text,
        "sources": [int(i) for i in sentence.sources],
        "note": check_note(sentence, doc),  # our words and sentence numbers only
        "marks": marks(sentence.flags),
    }


def _marked(doc: Document) -> list[Segment]:
    return [s for s in doc.segments if any(f in WARNINGS for f in s.flags)]


def _unreliable(doc: Document) -> int:
    """How many sentences are marked, when that many make the whole translation unreliable
    (a warning at the top of the card); else 0."""
    marked = len(_marked(doc)) if doc.complete else 0
    if marked < 3 or marked / max(1, len(doc.segments)) < UNRELIABLE_SHARE:
        return 0
    return marked


def _check_list(doc: Document) -> list[dict]:
    """ "Check these sentences": each marked sentence and its reasons in plain words, the most
    harmful first (then in reading order); "Next to check" walks them in this order."""
    marked = sorted(_marked(doc) if doc.complete else [], key=lambda s: (harm(s.flags), s.index))
    return [
        {"i": int(s.index), "reasons": ", ".join(PLAIN[f] for f in WARNINGS if f in s.flags)}
        for s in marked
    ]


def _card(doc: Document, waiting: str) -> dict:
    """Key points first: the summary, how it was made, the machine-translation note. Until
    the key points exist the card is one line (on a phone it must not fill the screen)."""
    note_head, note_body = MT_NOTE.split(":", 1)
    return {
        "folded": not doc.summary and not doc.complete,
        # A finished result without key points says why (no summariser, nothing translated,
        # the model gave none, too short), as the command line does.
        "waiting": no_summary(doc) if doc.complete and not doc.summary else waiting,
        "how": summary_made_by(doc.meta),
        "unreliable": _unreliable(doc),
        "total": len(doc.segments),
        "points": [_point(s, doc) for s in doc.summary],
        "check": _check_list(doc),
        # What each copy button puts on the clipboard: plain text and HTML, both with the
        # sentence numbers, markers, reasons and where the article came from.
        "copies": [
            {"what": what, "plain": plain_text(copy), "parts": copy}
            for what in WHAT
            for copy in [parts(doc, what)]
        ]
        if doc.complete
        else [],
        "note_head": note_head,
        "note_body": note_body,
    }


def _where(doc: Document) -> str:
    """What a printed page says under its title: where the article came from, its date and
    link, and when it was translated."""
    source = doc.meta.get("source") or {}
    where = [str(source[k]) for k in ("outlet", "date", "url") if source.get(k)]
    where.append(f"translated by machine {created_at(doc.meta)}".strip())
    return " · ".join(where)


def render_results(
    doc: Document | None,
    waiting: str = "",
    offer: bool = False,
    panel: tuple[int, str] = (-1, ""),
    result: str | None = None,
) -> str:
    """The reading area: the key points card, then the sentence pairs, then the models.
    `waiting`: what the card says while it has no key points yet. `offer`: each sentence
    offers other wordings; `panel`: (sentence index, the HTML of its other wordings);
    `result`: its kept address (the page script puts it in the URL and the reader's list of
    recent articles, with the title and the count to check)."""
    if doc is None:
        return ""
    paragraphs = [
        [
            _pair(s, offer, panel[1] if s.index == panel[0] else "", doc.meta.get("names"))
            for s in p.segments
        ]
        for p in doc.paragraphs
    ]
    return view("page.html", "results", {
        "result": result if doc.complete else None,
        "complete": doc.complete,  # the headline shows once it is known (no dateline first)
        "to_check": f"{len(_marked(doc))} of {len(doc.segments)} sentences to check",
        "title": title(doc),
        "where": _where(doc),
        "card": _card(doc, waiting),
        "paragraphs": paragraphs,
        "meta": _meta(doc),
    })  # fmt: skip


def render_status(doc: Document | None, stage: str, state: str = "running", elapsed=None) -> str:
    """Progress and warnings above the results; `state` is running, done or stopped."""
    progress = None
    if doc is not None:
        segments = doc.segments
        remembered = sum("from_memory" in s.flags for s in segments)
        memo = f" ({remembered} from memory)" if remembered else ""
        to_check = doc.meta.get("trust", {}).get("to_check", 0) if doc.complete else 0
        memo += f" · {to_check} to check (marked)" if to_check else ""
        progress = {
            "total": len(segments),
            "done": sum(s.english is not None for s in segments),
            "memo": memo,
            "marked": bool(_marked(doc)) if doc.complete else False,  # a link to the list
        }
    warnings = doc.meta.get("warnings", []) if doc is not None else []
    return view("page.html", "status", {
        "state": state,
        "stage": stage,
        "progress": progress,
        "elapsed": f"{elapsed:.1f} s" if elapsed is not None else "",
        "warnings": [WARNING_LABELS.get(w, w) for w in warnings],
    })  # fmt: skip


def render_error(message: str) -> str:
    """A problem, in the reader's words, where the status goes (announced: role=alert)."""
    return view("page.html", "error", message)


def render_recent() -> str:
    """The reader's recent articles: an empty list the page script fills from this browser's
    storage (titles, times, what to check; each a link to its kept result)."""
    return view("page.html", "recent")


def render_count(max_chars: int) -> str:
    """The live character count under the input (page.js keeps it current)."""
    return view("page.html", "count", int(max_chars))


def render_collapsed(text: str) -> str:
    """The input, folded to one line after a run: its first words and its length."""
    words = text.split()
    first = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    return view("page.html", "collapsed", first, len(text))


def render_collapsed_source(what: str) -> str:
    """The input while it is read: the file's name or the link."""
    return view("page.html", "collapsed_source", what)


def _meta(doc: Document) -> dict:
    """How long it took, in plain words; the models and their settings behind "Details"."""
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
    return {"plain": plain, "details": details}
