"""The web page (`khulasa serve`): Arabic source | English translation | summary, side by side,
streamed as batches finish, with the same Document JSON on a stable API name."""

from __future__ import annotations

import logging
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from models.api import check_available, load_summarizer, load_translator
from models.document import Document
from models.errors import InputError, KhulasaError
from models.memory import MemoryTranslator, SentenceMemory
from models.pipeline import Pipeline
from models.presets import names
from models.text import normalize

from .render import CSS, HEAD, render_meta, render_panes, render_status
from .rest import Api, RestOptions, build_router

log = logging.getLogger("khulasa.serve")
SAMPLE_PATH = Path(__file__).resolve().parent.parent / "eval" / "data" / "brussels_ar.txt"
API_NAME = "translate_document"


@dataclass(frozen=True)
class ServeOptions:
    translator: str
    summarizer: str
    beams: int | None = None
    device: str = "auto"
    backend: str = "auto"
    max_chars: int = 20_000
    concurrency: int = 1
    queue_size: int = 16
    summary_sentences: int = 3
    memory: Path | None = None  # sentence memory file; None: no memory


def check_input(text: str | None, max_chars: int) -> str:
    """The text to process, or InputError for empty or over-long input (before any model)."""
    text = text or ""
    if len(text) > max_chars:
        raise InputError(f"The text has {len(text):,} characters; this server accepts at most "
                         f"{max_chars:,} (--max-chars). Split the article, or use "
                         f"`khulasa translate` for long documents.", "too_long")
    if not normalize(text):
        raise InputError("The input is empty: paste an Arabic article, or click the example.",
                         "empty_input")
    return text


class Models:
    """The loaded pipelines. The startup pair loads (or fails) before the page is served;
    other presets chosen on the page load on first use, once."""

    def __init__(self, options: ServeOptions):
        self.options = options
        self._lock = threading.Lock()
        self.memory = SentenceMemory(options.memory) if options.memory else None
        check_available(options.translator, options.summarizer)
        self.get(options.translator, options.summarizer, options.beams)

    def offered(self, kind: str) -> list[str]:
        """What a visitor may pick: the server's own model and the presets, nothing else (a
        visitor must not make the server load arbitrary paths or hub ids)."""
        default = self.options.translator if kind == "translator" else self.options.summarizer
        return list(dict.fromkeys([default, *names(kind)]))

    def get(self, translator: str, summarizer: str, beams: int | None) -> Pipeline:
        for spec, kind in ((translator, "translator"), (summarizer, "summarizer")):
            if spec not in self.offered(kind):
                raise InputError(f"{kind.capitalize()} {spec!r} is not offered by this server; "
                                 f"choose one of: {', '.join(self.offered(kind))}.",
                                 "not_offered")
        if beams is not None and not 1 <= beams <= 16:
            raise InputError(f"beams must be between 1 and 16, not {beams}.", "bad_option")
        with self._lock:  # one load at a time; loads are cached per process
            opts = self.options
            model = load_translator(translator, beams, opts.device, backend=opts.backend)
            if self.memory is not None:  # repeated sentences (and demos) come back at once
                model = MemoryTranslator(model, self.memory)
            return Pipeline(model, load_summarizer(summarizer, None, opts.device,
                                                   backend=opts.backend))


@contextmanager
def page_errors():
    """Our errors reach the visitor as their message; anything else as a generic one (the
    details go to the server log, never to the page)."""
    try:
        yield
    except KhulasaError as exc:
        raise gr.Error(str(exc)) from None
    except Exception:
        log.exception("processing failed")
        raise gr.Error("Internal error while processing this text; the server log has the "
                       "details. Please report it.") from None


def build_app(options: ServeOptions, models: Models) -> gr.Blocks:
    downloads = Path(tempfile.mkdtemp(prefix="khulasa-downloads-"))

    def pipeline_for(translator, summarizer, beams) -> Pipeline:
        return models.get(translator or options.translator, summarizer or options.summarizer,
                          int(beams) if beams else options.beams)

    def run_page(text, translator, summarizer, beams, sentences):
        no_file = gr.DownloadButton(value=None, interactive=False)
        with page_errors():
            text = check_input(text, options.max_chars)
            pipeline = pipeline_for(translator, summarizer, beams)
            doc = None
            for doc in pipeline.stream(text, summary_sentences=int(sentences or 0) or None):
                stage = "Summarising…" if doc.complete and pipeline.summarizer else "Translating…"
                note = "Waiting for the translation…" if pipeline.summarizer else "No summariser."
                yield (render_status(doc, stage), render_panes(doc, note), render_meta(doc),
                       no_file, no_file)
            json_path, md_path = _write_downloads(doc, downloads)
            yield (render_status(doc, "Done"), render_panes(doc, "No summary."),
                   render_meta(doc), gr.DownloadButton(value=str(json_path), interactive=True),
                   gr.DownloadButton(value=str(md_path), interactive=True))

    def translate_document(text: str, translator: str = "", summarizer: str = "",
                           beams: int = 0, summary_sentences: int = 0) -> dict:
        """Translate and summarise an Arabic document; returns the Document JSON."""
        with page_errors():
            text = check_input(text, options.max_chars)
            pipeline = pipeline_for(translator, summarizer, beams)
            return pipeline.process(text, summary_sentences=summary_sentences or None).to_dict()

    with gr.Blocks(title="khulasa — Arabic news, in English, with a summary") as app:
        gr.Markdown("## khulasa · خلاصة\nPaste an Arabic news article: each sentence is "
                    "translated into English beside its source, and the summary shows which "
                    "source sentences each of its sentences rests on. Hover or click any "
                    "sentence to see its counterparts.")
        source = gr.Textbox(label="Arabic article", lines=7, max_lines=20, rtl=True,
                            placeholder="الصق نص المقال هنا", elem_id="kh-input")
        with gr.Row():
            run = gr.Button("Translate", variant="primary", elem_id="kh-run")
            example = gr.Button("Example: coalition meeting in Brussels (AFP)",
                                elem_id="kh-example")
        with gr.Accordion("Options", open=False):
            with gr.Row():
                translator = gr.Dropdown(models.offered("translator"),
                                         value=options.translator, label="Translator")
                summarizer = gr.Dropdown(models.offered("summarizer"),
                                         value=options.summarizer, label="Summariser")
                beams = gr.Slider(0, 8, step=1, value=options.beams or 0,
                                  label="Beams (0 = the model's default)")
                sentences = gr.Slider(1, 10, step=1, value=options.summary_sentences,
                                      label="Summary length (sentences)")
        status = gr.HTML(render_status(None, ""), elem_id="kh-status")
        panes = gr.HTML(render_panes(None), elem_id="kh-panes")
        meta = gr.HTML("", elem_id="kh-meta")
        with gr.Row():
            json_file = gr.DownloadButton("Download JSON", interactive=False, elem_id="kh-json")
            md_file = gr.DownloadButton("Download Markdown", interactive=False, elem_id="kh-md")

        example.click(lambda: SAMPLE_PATH.read_text(encoding="utf-8"), None, source,
                      queue=False, api_visibility="private")
        run.click(run_page, [source, translator, summarizer, beams, sentences],
                  [status, panes, meta, json_file, md_file], api_name="translate_page",
                  concurrency_id="models", show_progress="minimal")
        gr.api(translate_document, api_name=API_NAME, concurrency_id="models")
    app.khulasa_downloads = downloads  # for launch(allowed_paths=...)
    return app


def _write_downloads(doc: Document, root: Path) -> tuple[Path, Path]:
    folder = Path(tempfile.mkdtemp(dir=root))
    json_path, md_path = folder / "khulasa.json", folder / "khulasa.md"
    json_path.write_text(doc.to_json(), encoding="utf-8")
    md_path.write_text(doc.to_markdown(), encoding="utf-8")
    return json_path, md_path


def launch(app: gr.Blocks, options: ServeOptions, host: str, port: int, models: Models,
           rest: RestOptions | None = None, block: bool = True) -> gr.Blocks:
    """Serve the page and, on the same port, the REST routes (serve/rest.py)."""
    app.queue(default_concurrency_limit=options.concurrency, max_size=options.queue_size)
    server, _, _ = app.launch(server_name=host, server_port=port, prevent_thread_lock=True,
                              css=CSS, head=HEAD, allowed_paths=[str(app.khulasa_downloads)],
                              show_error=True, quiet=not block)
    api = Api(models, rest or RestOptions(), options.concurrency, options.queue_size)
    server.include_router(build_router(api))
    if block:
        app.block_thread()
    return app
