"""The web page (`khulasa serve`): Arabic source | English translation | summary, side by side,
streamed as batches finish, with the same Document JSON on a stable API name. The page only:
its models, its turn and its guard come from server.py."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from khulasa.models.document import Document
from khulasa.models.errors import InputError, KhulasaError, ModelLoadError, ModelNotFound
from khulasa.models.text import normalize

from .render import render_meta, render_panes, render_status
from .server import EXAMPLE, MODEL_JOBS, Downloads, Gate, Guard, ModelPool, ServeOptions

log = logging.getLogger("khulasa.serve")
API_NAME = "translate_document"


def check_input(text: str | None, max_chars: int) -> str:
    """The text to process, or InputError for empty or over-long input (before any model)."""
    text = text or ""
    if len(text) > max_chars:
        raise InputError(
            f"This article has {len(text):,} characters; the limit here is "
            f"{max_chars:,}. Paste the first part, or split it.",
            "too_long",
        )
    if not normalize(text):
        raise InputError(
            "The input is empty: paste an Arabic article, or click the example.", "empty_input"
        )
    return text


@contextmanager
def page_errors():
    """Our errors reach the visitor as their message, except those naming server internals
    (model paths, caches); anything else as a generic one. Details go to the server log."""
    try:
        yield
    except (ModelNotFound, ModelLoadError) as exc:
        log.warning("model unavailable: %s", exc)
        raise gr.Error(
            "That model is not available on this server right now. Choose another "
            "in Options, or ask the server's operator."
        ) from None
    except KhulasaError as exc:
        raise gr.Error(str(exc)) from None
    except gr.Error:
        raise
    except Exception:
        log.exception("processing failed")
        raise gr.Error(
            "Internal error while processing this text; the server log has the "
            "details. Please report it."
        ) from None


class Page:
    """The page's two model events: the streaming page run and the `translate_document` API.
    Both take the rate limit of every door and a model slot of the server's one gate."""

    def __init__(self, options: ServeOptions, pool: ModelPool, gate: Gate, guard: Guard, downloads):
        self.options, self.pool, self.gate, self.guard = options, pool, gate, guard
        self.downloads = downloads

    def admit(self, request: gr.Request | None) -> None:
        """The rate limit of every door (the key was checked at login)."""
        client = request.client.host if request is not None and request.client else "unknown"
        if not self.guard.limiter.allow(client):
            raise gr.Error(self.guard.limiter.refusal())

    def run_page(self, text, translator, summarizer, beams, sentences, request: gr.Request):
        no_file = gr.DownloadButton(value=None, interactive=False)
        with page_errors():
            self.admit(request)
            text = check_input(text, self.options.max_chars)
            with self.gate.slot():
                pipeline = self.pool.get(translator, summarizer, int(beams or 0))
                note = "Waiting for the translation…" if pipeline.summarizer else "No summariser."
                doc = None
                for doc in pipeline.stream(text, summary_sentences=int(sentences or 0) or None):
                    done = doc.complete and pipeline.summarizer
                    stage = "Summarising…" if done else "Translating…"
                    panes = render_panes(doc, note)
                    yield render_status(doc, stage), panes, render_meta(doc), no_file, no_file
            json_path, md_path = _write_downloads(doc, self.downloads.folder())
            yield (
                render_status(doc, "Done"),
                render_panes(doc, "No summary."),
                render_meta(doc),
                gr.DownloadButton(value=str(json_path), interactive=True),
                gr.DownloadButton(value=str(md_path), interactive=True),
            )

    def translate_document(
        self,
        text: str,
        translator: str = "",
        summarizer: str = "",
        beams: int = 0,
        summary_sentences: int = 0,
        request: gr.Request = None,
    ) -> dict:
        """Translate and summarise an Arabic document; returns the Document JSON."""
        with page_errors():
            self.admit(request)
            text = check_input(text, self.options.max_chars)
            with self.gate.slot():
                pipeline = self.pool.get(translator, summarizer, int(beams or 0))
                sentences = int(summary_sentences or 0) or None
                return pipeline.process(text, summary_sentences=sentences).to_dict()


INTRO = (
    "## khulasa · خلاصة\nPaste an Arabic news article: each sentence is translated into "
    "English beside its source, and the summary shows which source sentences each of its "
    "sentences rests on. Hover or click any sentence to see its counterparts."
)


def _option_inputs(options: ServeOptions, pool: ModelPool) -> list:
    models = options.models
    with gr.Accordion("Options", open=False), gr.Row():
        return [
            gr.Dropdown(pool.offered("translator"), value=models.translator, label="Translator"),
            gr.Dropdown(pool.offered("summarizer"), value=models.summarizer, label="Summariser"),
            gr.Slider(0, 8, step=1, value=models.beams or 0, label="Beams (0 = the model's own)"),
            gr.Slider(1, 10, step=1, value=options.summary_sentences, label="Summary length"),
        ]


def build_app(
    options: ServeOptions, pool: ModelPool, gate: Gate, guard: Guard, downloads: Downloads
) -> gr.Blocks:
    page = Page(options, pool, gate, guard, downloads)
    keep = options.keep_downloads
    with gr.Blocks(
        title="khulasa — Arabic news, in English, with a summary",
        delete_cache=(max(60, keep // 6), keep),  # uploads and downloads expire
    ) as app:
        gr.Markdown(INTRO)
        source = gr.Textbox(
            label="Arabic article",
            lines=7,
            max_lines=20,
            rtl=True,
            placeholder="الصق نص المقال هنا",
            elem_id="kh-input",
        )
        with gr.Row():
            run = gr.Button("Translate", variant="primary", elem_id="kh-run")
            example = gr.Button(
                "Example: coalition meeting in Brussels (AFP)", elem_id="kh-example"
            )
        choices = _option_inputs(options, pool)
        status = gr.HTML(render_status(None, ""), elem_id="kh-status")
        panes = gr.HTML(render_panes(None), elem_id="kh-panes")
        meta = gr.HTML("", elem_id="kh-meta")
        with gr.Row():
            json_file = gr.DownloadButton("Download JSON", interactive=False, elem_id="kh-json")
            md_file = gr.DownloadButton("Download Markdown", interactive=False, elem_id="kh-md")

        example.click(
            lambda: EXAMPLE.read_text(encoding="utf-8"),
            None,
            source,
            queue=False,
            api_visibility="private",
        )
        run.click(
            page.run_page,
            [source, *choices],
            [status, panes, meta, json_file, md_file],
            api_name="translate_page",
            concurrency_id=MODEL_JOBS,
            show_progress="minimal",
        )
        gr.api(page.translate_document, api_name=API_NAME, concurrency_id=MODEL_JOBS)
    return app


def _write_downloads(doc: Document, folder: Path) -> tuple[Path, Path]:
    json_path, md_path = folder / "khulasa.json", folder / "khulasa.md"
    json_path.write_text(doc.to_json(), encoding="utf-8")
    md_path.write_text(doc.to_markdown(), encoding="utf-8")
    return json_path, md_path
