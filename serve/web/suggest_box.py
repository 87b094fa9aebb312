"""The page's "Suggest a better English sentence" (`--suggestions`): the reader's English for
one sentence of the result shown, kept through `suggest.suggest` as REST's `/suggest` is."""

from __future__ import annotations

import gradio as gr

from ...models.errors import InputError
from ..service import reader_message
from ..suggest import suggest
from .render import render_error, render_status


def suggestion_box(page, reading) -> None:
    """The page's "Suggest a better English sentence": a sentence number of the result shown
    (`reading`: a Reading) and the reader's English; keyed (login) and rate-limited like every
    door."""

    def submit(number, english, shown, request: gr.Request):
        try:
            page.admit(request)
            sources = [s.source for s in shown.doc.segments] if shown is not None else []
            n = int(number or 0)
            if not sources or not 1 <= n <= len(sources):
                raise InputError(
                    f"Give the number of a sentence of the result shown (1 to {len(sources)})."
                    if sources
                    else "Translate an article first, then correct one of its sentences.",
                    "invalid_request",
                )
            client = request.client.host if request is not None and request.client else "unknown"
            login = getattr(request, "username", None)
            suggest(page.pool, sources[n - 1], english, client, page.guard.key_of(login),
                    page.guard)  # fmt: skip
        except Exception as exc:
            return render_error(reader_message(exc)).replace("Not translated.", "Not kept.")
        return render_status(
            None,
            f"Kept: your English for sentence {n} is used for it from now on, marked "
            "“corrected by a reader”.",
            state="done",
        )

    with gr.Accordion("Suggest a better English sentence", open=False,
                      elem_classes=["kh-noprint"], elem_id="kh-suggest"):  # fmt: skip
        with gr.Row():
            number = gr.Number(label="Sentence number", precision=0, minimum=1,
                               elem_id="kh-suggest-n")  # fmt: skip
            english = gr.Textbox(label="Your English for it", elem_id="kh-suggest-text")
        send = gr.Button("Suggest", elem_id="kh-suggest-send")
        answer = gr.HTML("", elem_id="kh-suggest-answer")
    send.click(submit, [number, english, reading], answer, api_visibility="private")
