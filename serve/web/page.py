"""The web page (`khulasa serve`) for a reader: the key points first, then the sentence pairs
(Arabic and English level on one row), streamed as batches finish, with the same Document JSON
on a stable API name. The page only: its models, its turn and its guard come from the service
(service.py, limits.py)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from ...models.document import Document
from ...models.errors import InputError
from ...models.glossary import parse_lines
from ...models.options import MAX_BEAMS
from ...models.reading.article import Article, read_article
from ...models.reading.extract import SUFFIXES, kinds_in_words
from ...models.report import file_stem, to_markdown
from ...models.text import is_link
from ..admission import Allowance, check_text
from ..limits import Gate, Guard
from ..results import Results
from ..service import EXAMPLE, Downloads, ModelPool, ServeOptions, reader_message
from .coverage import build_coverage_tab
from .render import (
    render_collapsed,
    render_collapsed_source,
    render_count,
    render_error,
    render_recent,
    render_results,
    render_status,
)
from .suggest_box import suggestion_box
from .views import view
from .wordings_box import WORDINGS_JS, Reading, wordings_events

API_NAME = "translate_document"


def check_input(text: str | None, max_chars: int) -> str:
    """The text to process, or InputError for empty, over-long or non-Arabic input (the one
    way in's checks, in the page's words): text that is not Arabic is not sent to the
    translator."""
    return check_text(text, max_chars, where="This article",
                      fix_empty="paste an Arabic article, or click the example.",
                      fix_arabic="Paste an Arabic article.")  # fmt: skip


def lone_link(text: str | None) -> str:
    """The link when the text box holds nothing but one link (read as the link), else ""."""
    text = (text or "").strip()
    return text if is_link(text) and len(text.split()) == 1 else ""


@contextmanager
def page_errors(gate=None):
    """For the page API: every failure as a gr.Error with the reader's message (its code
    counted by `gate`'s figures)."""
    try:
        yield
    except gr.Error:
        raise
    except Exception as exc:
        if gate is not None:
            gate.refused(getattr(exc, "code", None))
        raise gr.Error(reader_message(exc)) from None


def _view(
    status, results, *, editing, folded=None, busy=False, files=(None, None), reading=None,
    article=None,
) -> tuple:  # fmt: skip
    """The page run's outputs: status, results, editor, folded row, folded text, Translate,
    Example, Cancel, JSON and Markdown downloads, the result being read (a `Reading`), and
    the text box, file and link: an article read from a file or a link goes into the text box
    (Edit then edits it, and the next run translates it) and the file and link are cleared."""
    json_path, md_path = files
    inputs = (article, None, "") if article is not None else (gr.skip(),) * 3
    return (
        status,
        results,
        gr.Column(visible=editing),
        gr.Row(visible=not editing),
        folded if folded is not None else gr.skip(),
        gr.Button(
            "Translating…" if busy else "Translate",
            interactive=not busy,
            visible=editing or busy,
            elem_classes=["kh-busy"] if busy else [],
        ),
        gr.Button(visible=editing),
        gr.Button(visible=busy),
        gr.DownloadButton(value=str(json_path) if json_path else None, interactive=bool(json_path)),
        gr.DownloadButton(value=str(md_path) if md_path else None, interactive=bool(md_path)),
        reading if reading is not None else gr.skip(),
        *inputs,
    )


class Page:
    """The page's two model events: the streaming page run and the `translate_document` API.
    Both take the rate limit of every door and a model slot of the server's one gate."""

    def __init__(
        self, options: ServeOptions, pool: ModelPool, gate: Gate, guard: Guard, downloads,
        results: Results | None = None,
    ):  # fmt: skip
        self.options, self.pool, self.gate, self.guard = options, pool, gate, guard
        self.downloads = downloads
        self.results = results or Results(downloads.root, options.keep_results)
        self._reads: dict[str, set[threading.Event]] = {}  # session -> its reads' cancel flags
        self._lock = threading.Lock()

    def admit(self, request: gr.Request | None) -> None:
        """The rate limit of every door (the key was checked at login)."""
        client = request.client.host if request is not None and request.client else "unknown"
        if not self.guard.limiter.allow(client):
            raise InputError(self.guard.limiter.refusal(), "too_many_requests")

    def allowance(self, max_docs: int = 1, max_total: int | None = None) -> Allowance:
        """What one request to the page may bring, and how each file is read."""
        return Allowance(max_docs, self.options.max_chars, max_total, self.options.read)

    def source_of(self, text: str | None, upload: str | None, link: str | None) -> str:
        """What the article comes from: "file", "link" or "text" (a link on a server without
        --allow-urls is refused here, before any wait)."""
        if upload:
            return "file"
        if (link and link.strip()) or lone_link(text):
            if not self.options.allow_urls:
                raise InputError(
                    "This server does not fetch links: paste the article's text or upload its "
                    "file (the server's operator can allow links with --allow-urls).",
                    "urls_off",
                )
            return "link"
        return "text"

    def article(self, text, upload, link, request: gr.Request | None = None) -> Article:
        """The article to translate (read_article): an uploaded file first, then a link
        (only with --allow-urls; in the link box, or alone in the text box), else the pasted
        text. A file or link is read in a bounded worker (--read-seconds, --read-memory) that
        Cancel stops; callers hold a model slot meanwhile."""
        kind = self.source_of(text, upload, link)
        if kind == "text":
            return Article(text)
        budget, policy = self.options.read, self.options.fetch_policy
        with self.reading(request) as cancel:
            most = self.options.max_chars  # a longer text is refused where it is read
            if kind == "file":  # messages name the upload, never the server's path to it
                return read_article(Path(upload), Path(upload).name, budget, None, cancel, most)
            return read_article(link or lone_link(text), "", budget, policy, cancel, most)

    @contextmanager
    def reading(self, request: gr.Request | None):
        """A cancel flag for this visitor's read, set by their Cancel (or when the server
        stops)."""
        session = getattr(request, "session_hash", None) or "api"
        cancel = threading.Event()
        with self._lock:
            self._reads.setdefault(session, set()).add(cancel)
        try:
            yield cancel
        finally:
            with self._lock:
                self._reads.get(session, set()).discard(cancel)
                if not self._reads.get(session, True):
                    del self._reads[session]

    def cancel_reads(self, request: gr.Request | None) -> None:
        """Stop what is being read for this visitor (their Cancel)."""
        session = getattr(request, "session_hash", None)
        with self._lock:
            for cancel in self._reads.get(session, ()):
                cancel.set()

    def run_page(
        self, text, upload, link, translator, summarizer, beams, sentences, pinned="",
        request: gr.Request = None,
    ):  # fmt: skip
        """The page's run: checks, then the results as they fill, then downloads. Any problem
        replaces the results with a message in the reader's words (no stale "Done")."""
        started = time.perf_counter()
        try:
            self.admit(request)
            kind = self.source_of(text, upload, link)
            if kind == "text":
                text = check_input(text, self.options.max_chars)
            glossary = parse_lines(pinned or "")
        except Exception as exc:
            yield _view(render_error(reader_message(exc)), "", editing=True)
            return
        if kind == "text":
            folded = render_collapsed(text)
        else:  # the file's name (never its server path) or the link, while it is read
            folded = render_collapsed_source(Path(upload).name if kind == "file" else link or text)
        yield _view(render_status(None, "Waiting for a free slot…", elapsed=0), "",
                    editing=False, folded=folded, busy=True)  # fmt: skip
        about = {}
        try:
            with self.gate.job():
                if kind != "text":  # reading is work: it holds the slot, under its budget
                    reading = "Reading the file…" if kind == "file" else "Fetching the link…"
                    yield _view(render_status(None, reading, elapsed=0), "", editing=False,
                                busy=True)  # fmt: skip
                    article = self.article(text, upload, link, request)
                    text, about = article.text, article.source
                    text = check_input(text, self.options.max_chars)
                    yield _view(render_status(None, "Translating…", elapsed=0), "",
                                editing=False, folded=render_collapsed(text), busy=True,
                                article=text)  # fmt: skip
                pipeline = self.pool.get(translator, summarizer, int(beams or 0))
                waiting = (
                    "after the translation"
                    if pipeline.summarizer
                    else "No summariser was chosen (Options)."
                )
                doc, first = None, False
                pins = glossary.over(pipeline.glossary) if glossary else None
                for doc in pipeline.stream(text, summary_sentences=int(sentences or 0) or None,
                                           glossary=pins):  # fmt: skip
                    if not first and any(s.english for s in doc.segments):
                        first = True
                        self.gate.first_sentence("page", time.perf_counter() - started)
                    stage = (
                        "Summarising…" if doc.complete and pipeline.summarizer else "Translating…"
                    )
                    status = render_status(doc, stage, elapsed=time.perf_counter() - started)
                    yield _view(status, render_results(doc, waiting), editing=False, busy=True)
            if about:
                doc.meta["source"] = about
            self.gate.finished("page", doc, time.perf_counter() - started)
            files = self.write_downloads(doc)
        except Exception as exc:
            self.gate.refused(getattr(exc, "code", None))
            yield _view(render_error(reader_message(exc)), "", editing=True)
            return
        models = (translator, summarizer, int(beams or 0))
        reading = Reading(doc, models, seconds=time.perf_counter() - started)
        reading.result = self.results.save(doc, models)  # its address (?r=ID), if kept
        yield _view(reading.status(), reading.view(), editing=False, files=files, reading=reading)

    def restore(self, request: gr.Request):
        """A page opened at a kept result's address (?r=ID): that result, as it was left
        (the wordings chosen included), with its downloads; the article in the text box for
        Edit. An unknown or expired address says so; no address changes nothing."""
        result_id = request.query_params.get("r") if request is not None else None
        if not result_id:
            return (gr.skip(),) * 14
        try:
            self.admit(request)  # it reads a result and writes its downloads: a door too
        except InputError as exc:
            return _view(render_error(str(exc)), gr.skip(), editing=True)
        found = self.results.load(result_id)
        if found is None:
            minutes = max(1, self.options.keep_results // 60)
            message = (
                f"This result is no longer kept (this server keeps results {minutes} minutes)"
                if self.results.on
                else "This server keeps no results"
            )
            status = render_status(None, f"{message}: paste the article again.", state="stopped")
            return _view(status, gr.skip(), editing=True)
        doc, models = found
        reading = Reading(doc, (str(models[0]), str(models[1]), int(models[2])))
        reading.result = result_id
        text = "\n\n".join(" ".join(s.source for s in p.segments) for p in doc.paragraphs)
        files = self.write_downloads(doc)
        return _view(reading.status(), reading.view(), editing=False, files=files,
                     folded=render_collapsed(text), reading=reading, article=text)  # fmt: skip

    def write_downloads(self, doc: Document) -> tuple[Path, Path]:
        """The JSON and the Markdown, named after the article's first words and the date, in
        a folder of their own (written again when the reader uses another wording)."""
        folder = self.downloads.folder()
        stem = file_stem(doc)
        json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
        json_path.write_text(doc.to_json(), encoding="utf-8")
        md_path.write_text(to_markdown(doc), encoding="utf-8")
        return json_path, md_path

    def stopped(self, request: gr.Request = None):
        """Cancel: the run is stopped (Gradio closes it, which frees its model slot), and a
        file or link being read for this visitor is stopped too (its worker killed)."""
        self.cancel_reads(request)
        status = render_status(None, "Stopped. Edit the article or press Translate to run again.",
                               state="stopped")  # fmt: skip
        return _view(status, gr.skip(), editing=True)

    def translate_document(
        self,
        text: str,
        translator: str = "",
        summarizer: str = "",
        beams: int = 0,
        summary_sentences: int = 0,
        url: str = "",
        glossary: str = "",
        request: gr.Request = None,
    ) -> dict:
        """Translate and summarise an Arabic document (or the article at `url`, on a server
        started with --allow-urls); returns the Document JSON. `glossary`: pinned spellings,
        one `Arabic = English` a line, over the server's own."""
        started = time.perf_counter()
        with page_errors(self.gate):
            self.admit(request)
            reads = self.source_of(text, None, url) != "text"
            pinned = parse_lines(glossary or "", "glossary")
            if not reads:  # pasted text is checked before any wait
                text = check_input(text, self.options.max_chars)
            with self.gate.job():
                article = self.article(text, None, url, request)
                text, about = article.text, article.source
                if reads:
                    text = check_input(text, self.options.max_chars)
                pipeline = self.pool.get(translator, summarizer, int(beams or 0))
                sentences = int(summary_sentences or 0) or None
                pins = pinned.over(pipeline.glossary) if pinned else None
                doc = pipeline.process(text, summary_sentences=sentences, glossary=pins)
            self.gate.finished("page_api", doc, time.perf_counter() - started)
            if about:
                doc.meta["source"] = about
            return doc.to_dict()


INTRO = view("page.html", "intro")
PLACEHOLDER = "Paste an Arabic news article here\nالصق هنا نص مقال إخباري بالعربية"


def _option_inputs(options: ServeOptions, pool: ModelPool, page=None) -> list:
    models = options.models
    with gr.Accordion("Options", open=False):
        with gr.Row():
            chosen = [
                gr.Dropdown(
                    pool.offered("translator"),
                    value=pool.offered("translator")[0],
                    label="Translator",
                ),  # fmt: skip
                gr.Dropdown(
                    pool.offered("summarizer"),
                    value=pool.offered("summarizer")[0],
                    label="Summariser",
                ),  # fmt: skip
                gr.Slider(
                    0,
                    MAX_BEAMS,
                    step=1,
                    value=models.beams or 0,
                    label="Wordings weighed per sentence",
                    info="More is slower and sometimes better; 0 keeps the model's own setting.",
                ),
                gr.Slider(1, 10, step=1, value=options.summary_sentences, label="Key points"),
            ]
        pinned = gr.Textbox(
            label="Pinned spellings",
            info="One a line: the Arabic term = the English every sentence must use (e.g. "
            "كيري = Kerry). Kept in this browser.",
            placeholder="كيري = Kerry",
            lines=2,
            max_lines=8,
            elem_id="kh-pinned",
        )
    if page is not None:  # kept in this browser (the page's BrowserState, made at its top)
        page.pinned = pinned
        pinned.change(lambda v: v, pinned, page.pinned_saved, queue=False,
                      api_visibility="private")  # fmt: skip
    return [*chosen, pinned]


def pin_events(page: Page, results) -> None:
    """A name's "Use “Kerry” everywhere" (the reading area's click, `{pin: "كيري = Kerry"}`):
    that line joins the pinned spellings (Options, kept in this browser); the next run uses
    it. Only a line the pinned spellings can read is taken."""

    def on_pin(current: str, evt: gr.EventData):
        data = getattr(evt, "_data", None)
        line = data.get("pin") if isinstance(data, dict) else None
        if not isinstance(line, str) or len(line) > 500:
            return gr.skip(), gr.skip()
        try:
            parse_lines(line)
        except Exception:
            return gr.skip(), gr.skip()
        lines = [x.strip() for x in (current or "").splitlines() if x.strip()]
        merged = "\n".join(lines if line in lines else [*lines, line])
        return merged, merged

    results.click(on_pin, [page.pinned], [page.pinned, page.pinned_saved], queue=False,
                  show_progress="hidden", api_visibility="private")  # fmt: skip


def _article_tab(page: Page, options: ServeOptions, pool: ModelPool) -> list:
    """The Article tab: one article in, its key points and sentence pairs out. Returns the
    outputs a run fills (a kept result opened at its address fills them too)."""
    # Over 60 lines for a reason: the tab's layout and its events, read top to bottom.
    noprint = ["kh-noprint"]
    with gr.Column(elem_id="kh-editor", elem_classes=noprint) as editor:
        source = gr.Textbox(
            label="Arabic article",
            lines=7,
            max_lines=20,
            rtl=True,
            placeholder=PLACEHOLDER,
            elem_id="kh-input",
        )
        gr.HTML(render_count(options.max_chars), elem_id="kh-count")
        with gr.Row():
            upload = gr.File(
                label=f"Or a file: {kinds_in_words()}",
                file_types=list(SUFFIXES),
                elem_id="kh-file",
                height=120,
            )
            link = gr.Textbox(
                label="Or a link to the article",
                placeholder="https://…",
                visible=options.allow_urls,
                elem_id="kh-link",
            )
        choices = _option_inputs(options, pool, page)
        if options.keep_results:
            gr.HTML(render_recent(), elem_id="kh-recent-box")
    with gr.Row(visible=False, elem_id="kh-folded", elem_classes=noprint) as folded:
        folded_text = gr.HTML("", elem_id="kh-folded-text")
        edit = gr.Button("Edit", size="sm", scale=0, min_width=70, elem_id="kh-edit")
    with gr.Row(elem_classes=noprint):
        run = gr.Button("Translate", variant="primary", elem_id="kh-run")
        example = gr.Button("Example: coalition meeting in Brussels (AFP)", elem_id="kh-example")
        cancel = gr.Button("Cancel", variant="stop", visible=False, elem_id="kh-cancel")
    status = gr.HTML(render_status(None, "", state="idle"), elem_id="kh-status",
                     elem_classes=noprint)  # fmt: skip
    results = gr.HTML("", elem_id="kh-results", js_on_load=WORDINGS_JS)
    with gr.Row(elem_classes=noprint):
        json_file = gr.DownloadButton("Download JSON", interactive=False, elem_id="kh-json")
        md_file = gr.DownloadButton("Download Markdown", interactive=False, elem_id="kh-md")

    reading = gr.State(None)  # the result shown (a Reading): other wordings, corrections
    if options.suggestions:
        suggestion_box(page, reading)
    wordings_events(page, results, status, (json_file, md_file), reading)
    pin_events(page, results)
    outputs = [status, results, editor, folded, folded_text, run, example, cancel]
    outputs += [json_file, md_file, reading, source, upload, link]
    job = dict(show_progress="hidden")  # each takes its turn in the gate (launch.py)
    inputs = [source, upload, link, *choices]
    runs = [
        run.click(page.run_page, inputs, outputs, api_name="translate_page", **job),
        example.click(
            lambda: (EXAMPLE.read_text(encoding="utf-8"), None, ""),
            None,
            [source, upload, link],
            queue=False,
            api_visibility="private",
        ).then(page.run_page, inputs, outputs, api_visibility="private", **job),
    ]
    cancel.click(page.stopped, None, outputs, cancels=runs, queue=False,
                 api_visibility="private")  # fmt: skip
    edit.click(
        lambda: (
            gr.Column(visible=True),
            gr.Row(visible=False),
            gr.Button(visible=True),
            gr.Button(visible=True),
        ),  # fmt: skip
        None,
        [editor, folded, run, example],
        queue=False,
        api_visibility="private",
    )
    return outputs


def build_app(
    options: ServeOptions, pool: ModelPool, gate: Gate, guard: Guard, downloads: Downloads,
    results: Results | None = None,
) -> gr.Blocks:  # fmt: skip
    page = Page(options, pool, gate, guard, downloads, results)
    keep = options.keep_downloads
    with gr.Blocks(
        title="khulasa — Arabic news, in English, with key points",
        delete_cache=(max(60, keep // 6), keep),  # uploads and downloads expire
    ) as app:
        if options.replicas:  # said first, on every tab: the models write random words
            gr.HTML(view("page.html", "replicas_banner"), elem_id="kh-replicas")
        gr.HTML(INTRO, elem_classes=["kh-noprint"])
        # At the top, not in the closed Options: a BrowserState reads the browser's storage
        # when it is mounted.
        page.pinned_saved = gr.BrowserState("", storage_key="khulasa-pinned")
        with gr.Tabs():
            with gr.Tab("Article", elem_id="kh-tab-article"):
                outputs = _article_tab(page, options, pool)
            with gr.Tab("Coverage", elem_id="kh-tab-coverage"):
                build_coverage_tab(page, pool)
        gr.api(page.translate_document, api_name=API_NAME)
        # The reader's pinned spellings, kept in this browser, come back with the page.
        app.load(lambda v: v or gr.skip(), page.pinned_saved, page.pinned, queue=False,
                 api_visibility="private")  # fmt: skip
        # A kept result's address (?r=ID) opens that result: a reload, a colleague's link.
        app.load(page.restore, None, outputs, api_visibility="private", show_progress="hidden")
    return app
