"""The page's other wordings: a reader who doubts a sentence's English asks for the model's
other wordings of it (decoded on demand, in the server's one line of model jobs and through the
sentence memory), sees each with its score and checks, and may use one in its place: in this
reader's page and downloads only, never in the memory or anybody else's result.

The result being read lives in the visitor's session (a `Reading` in a gr.State); the reading
area's buttons reach the server through the results component's own click event (its
`js_on_load` sends which button: "ask:5", "use:5:1", "close:5")."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import gradio as gr

from ...models.checks import confidence
from ...models.document import NOT_ARABIC, Document, Segment
from ...models.errors import InputError
from ...models.evidence import evidence
from ...models.wordings import (
    OFFERED,
    Wording,
    first_wording,
    other_wordings,
    shown_wording,
    use_wording,
)
from ..service import reader_message
from .render import marks, render_results, render_status
from .views import view

# The reading area sends which wording button was pressed, or which spelling a name's "Use …
# everywhere" pins (nothing else: a click elsewhere in it is the page script's own business).
WORDINGS_JS = (
    "element.addEventListener('click', ev => {"
    " const b = ev.target.closest && ev.target.closest('[data-wording]');"
    " if (b) trigger('click', {wording: b.dataset.wording});"
    " const p = ev.target.closest && ev.target.closest('[data-pin]');"
    " if (p) trigger('click', {pin: p.dataset.pin}); });"
)
_ACTION = re.compile(r"(ask|use|close):(\d{1,6})(?::(\d))?")
DONE = "No key points."  # what a finished card says when it has none (as the page run's)


@dataclass
class Reading:
    """The result a visitor is reading, kept in their session: the Document, the models that
    made it (translator, summariser, beams), the run's seconds, the other wordings found so far
    (by sentence index), each changed sentence as the model first gave it, and the sentence
    whose wordings are open."""

    doc: Document
    models: tuple[str, str, int]
    seconds: float = 0.0
    found: dict[int, list[Wording]] = field(default_factory=dict)
    first: dict[int, Segment] = field(default_factory=dict)
    open: int = -1
    result: str | None = None  # its kept address (?r=ID), None when the server keeps none

    def offered(self, index: int) -> list[Wording]:
        """The wordings offered for a sentence: the model's first one when another is shown
        now, then those found, never the one shown; at most OFFERED."""
        seg = self.doc.segments[index]
        candidates = [shown_wording(self.first[index])] if index in self.first else []
        out: list[Wording] = []
        for w in candidates + self.found.get(index, []):
            if w.english != seg.english and w.english not in (o.english for o in out):
                out.append(w)
        return out[:OFFERED]

    def view(self, panel: str = "") -> str:
        return render_results(
            self.doc, DONE, offer=True, panel=(self.open, panel), result=self.result
        )

    def status(self) -> str:
        return render_status(self.doc, "Done:", state="done", elapsed=self.seconds)


def render_wordings(reading: Reading, index: int, message: str = "", busy: bool = False) -> str:
    """The other wordings of sentence `index`, open under it: each with its score, its checks
    and a button to use it; or `message` (busy: while they are found). Every text escaped
    (templates/wordings.html)."""
    seg = reading.doc.segments[index]
    first = reading.first.get(index)
    offered = [] if message or busy else reading.offered(index)
    return view("wordings.html", "wordings", {
        "i": int(index),
        "busy": busy,
        "message": message if message or busy else None,
        "now": _about(shown_wording(seg), seg),
        "offered": [
            {
                "parts": changed_parts(seg.english or "", w.english),
                "about": _about(w, seg),
                "first": bool(first and w.english == first.english),
            }
            for w in offered
        ],
    })  # fmt: skip


def changed_parts(shown: str, other: str) -> list[tuple[bool, str]]:
    """`other` in runs of words, each with whether `shown` has it too (False: the words
    `other` has in place of `shown`'s, which the page marks)."""
    a, b = shown.split(), other.split()
    out = []
    for op, _, _, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        words = " ".join(b[j1:j2])
        if words:
            out.append((op == "equal", words))
    return out


def changed_words(shown: str, other: str) -> str:
    """`other` as HTML with the words it has in place of `shown`'s marked (<mark>), so that
    a reader sees at once what a wording changes ("he has no plans"). Each word escaped."""
    return view("wordings.html", "changed", changed_parts(shown, other))


def _about(w: Wording, seg: Segment) -> dict:
    """A wording's score and its warnings (each with its reason and evidence)."""
    flags = list(w.flags)
    return {
        "score": f"model confidence: {confidence(w.score)}"
        + (f" (score {w.score:.2f})" if w.score is not None else ""),
        "marks": marks(flags, evidence(seg.source, w.english, flags, w.score)),
    }


def wordings_events(page, results, status, downloads, reading) -> None:
    """The reading area's wording buttons (ask, use, close), through `act`."""

    def on_click(current: Reading | None, request: gr.Request, evt: gr.EventData):
        data = getattr(evt, "_data", None)  # what the browser sent: anything at all
        wording = data.get("wording", "") if isinstance(data, dict) else ""
        yield from act(page, current, str(wording), request)

    results.click(
        on_click,
        [reading],
        [results, status, *downloads, reading],
        show_progress="hidden",
        api_visibility="private",
    )


def act(page, current: Reading | None, wording: str, request=None):
    """One wording button: "ask:I" finds the other wordings of sentence I (once: then kept in
    the Reading), in the server's line of model jobs; "use:I:K" shows the K-th offered one and
    writes the downloads again; "close:I" closes them. Yields the outputs (results, status,
    JSON, Markdown, Reading); a problem shows in the panel, in the reader's words."""
    skip = (gr.skip(),) * 4
    found = _ACTION.fullmatch(wording)
    if current is None or found is None:  # nothing read here yet, or not our button
        yield gr.skip(), *skip
        return
    what, index = found.group(1), int(found.group(2))
    if not 0 <= index < len(current.doc.segments):
        yield gr.skip(), *skip
        return
    current.open = -1 if what == "close" else index
    if what == "close":
        yield current.view(), gr.skip(), gr.skip(), gr.skip(), current
        return
    if what == "use":
        offered = current.offered(index)
        k = int(found.group(3) or 0)
        if k >= len(offered):
            yield gr.skip(), *skip
            return
        try:
            page.admit(request)  # it writes both downloads again: a door like the others,
            with page.gate.job():  # and its turn in the one line of jobs
                choose(page, current, index, offered[k])
                json_path, md_path = page.write_downloads(current.doc)
                # The kept result (its address) shows the chosen wording too.
                current.result = page.results.save(current.doc, current.models, current.result)
        except Exception as exc:
            yield current.view(render_wordings(current, index, reader_message(exc))), *skip
            return
        yield (current.view(render_wordings(current, index)), current.status(),
               gr.DownloadButton(value=str(json_path)), gr.DownloadButton(value=str(md_path)),
               current)  # fmt: skip
        return
    if index not in current.found:
        waiting = render_wordings(current, index, "Finding other wordings…", busy=True)
        try:
            page.admit(request)
            seg = current.doc.segments[index]
            if not seg.english or NOT_ARABIC in seg.flags:
                raise InputError("This sentence has no translation to word otherwise.",
                                 "invalid_request")  # fmt: skip
            yield current.view(waiting), *skip
            with page.gate.job():
                pipeline = page.pool.get(*current.models)
                current.found[index] = other_wordings(pipeline, current.first.get(index, seg))
        except Exception as exc:
            yield current.view(render_wordings(current, index, reader_message(exc))), *skip
            return
    yield current.view(render_wordings(current, index)), gr.skip(), gr.skip(), gr.skip(), current


def choose(page, reading: Reading, index: int, wording: Wording) -> None:
    """Show `wording` for sentence `index` (its key points and counts made again)."""
    seg = reading.doc.segments[index]
    reading.first.setdefault(index, first_wording(seg))
    pipeline = page.pool.get(*reading.models)  # loaded already: it made this result
    use_wording(pipeline, reading.doc, index, wording, reading.first[index])
