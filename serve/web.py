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
        raise InputError(f"This article has {len(text):,} characters; the limit here is "
                         f"{max_chars:,}. Paste the first part, or split it.", "too_long")
    if not normalize(text):
        raise InputError("The input is empty: paste an Arabic article, or click the example.",
                         "empty_input")
    return text


@contextmanager
def page_errors():
    """Our errors reach the visitor as their message, except those naming server internals
    (model paths, caches); anything else as a generic one. Details go to the server log."""
    try:
        yield
    except (ModelNotFound, ModelLoadError) as exc:
        log.warning("model unavailable: %s", exc)
        raise gr.Error("That model is not available on this server right now. Choose another "
                       "in Options, or ask the server's operator.") from None
    except KhulasaError as exc:
        raise gr.Error(str(exc)) from None
    except gr.Error:
        raise
    except Exception:
        log.exception("processing failed")
        raise gr.Error("Internal error while processing this text; the server log has the "
                       "details. Please report it.") from None


def build_app(options: ServeOptions, pool: ModelPool, gate: Gate, guard: Guard,
              downloads: Downloads) -> gr.Blocks:
    def admit(request: gr.Request | None) -> None:
        """The rate limit of every door (the key was checked at login)."""
        client = request.client.host if request is not None and request.client else "unknown"
        if not guard.limiter.allow(client):
            raise gr.Error(guard.limiter.refusal())

    def run_page(text, translator, summarizer, beams, sentences, request: gr.Request):
        no_file = gr.DownloadButton(value=None, interactive=False)
        with page_errors():
            admit(request)
            text = check_input(text, options.max_chars)
            with gate.slot():
                pipeline = pool.get(translator, summarizer, int(beams or 0))
                doc = None
                for doc in pipeline.stream(text, summary_sentences=int(sentences or 0) or None):
                    stage = ("Summarising…" if doc.complete and pipeline.summarizer
                             else "Translating…")
                    note = ("Waiting for the translation…" if pipeline.summarizer
                            else "No summariser.")
                    yield (render_status(doc, stage), render_panes(doc, note), render_meta(doc),
                           no_file, no_file)
            json_path, md_path = _write_downloads(doc, downloads.folder())
            yield (render_status(doc, "Done"), render_panes(doc, "No summary."),
                   render_meta(doc), gr.DownloadButton(value=str(json_path), interactive=True),
                   gr.DownloadButton(value=str(md_path), interactive=True))

    def translate_document(text: str, translator: str = "", summarizer: str = "",
                           beams: int = 0, summary_sentences: int = 0,
                           request: gr.Request = None) -> dict:
        """Translate and summarise an Arabic document; returns the Document JSON."""
        with page_errors():
            admit(request)
            text = check_input(text, options.max_chars)
            with gate.slot():
                pipeline = pool.get(translator, summarizer, int(beams or 0))
                sentences = int(summary_sentences or 0) or None
                return pipeline.process(text, summary_sentences=sentences).to_dict()

    models = options.models
    with gr.Blocks(title="khulasa — Arabic news, in English, with a summary",
                   delete_cache=(max(60, options.keep_downloads // 6),
                                 options.keep_downloads)) as app:
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
                translator = gr.Dropdown(pool.offered("translator"),
                                         value=models.translator, label="Translator")
                summarizer = gr.Dropdown(pool.offered("summarizer"),
                                         value=models.summarizer, label="Summariser")
                beams = gr.Slider(0, 8, step=1, value=models.beams or 0,
                                  label="Beams (0 = the model's default)")
                sentences = gr.Slider(1, 10, step=1, value=options.summary_sentences,
                                      label="Summary length (sentences)")
        status = gr.HTML(render_status(None, ""), elem_id="kh-status")
        panes = gr.HTML(render_panes(None), elem_id="kh-panes")
        meta = gr.HTML("", elem_id="kh-meta")
        with gr.Row():
            json_file = gr.DownloadButton("Download JSON", interactive=False, elem_id="kh-json")
            md_file = gr.DownloadButton("Download Markdown", interactive=False, elem_id="kh-md")

        example.click(lambda: EXAMPLE.read_text(encoding="utf-8"), None, source,
                      queue=False, api_visibility="private")
        run.click(run_page, [source, translator, summarizer, beams, sentences],
                  [status, panes, meta, json_file, md_file], api_name="translate_page",
                  concurrency_id=MODEL_JOBS, show_progress="minimal")
        gr.api(translate_document, api_name=API_NAME, concurrency_id=MODEL_JOBS)
    return app


def _write_downloads(doc: Document, folder: Path) -> tuple[Path, Path]:
    json_path, md_path = folder / "khulasa.json", folder / "khulasa.md"
    json_path.write_text(doc.to_json(), encoding="utf-8")
    md_path.write_text(doc.to_markdown(), encoding="utf-8")
    return json_path, md_path
