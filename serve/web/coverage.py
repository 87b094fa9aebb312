"""The page's Coverage tab: several articles on one event in (uploaded files, or pasted with a
line of three dashes between them), one digest out: key points across the coverage, who
reports what, what each article alone adds. Same limits, rate, key and model slots as every
other door; progress shown while it runs; Cancel stops it."""

from __future__ import annotations

import queue
import re
import threading
import time
from pathlib import Path

import gradio as gr

from ...models.digest.build import (
    DIGEST_POINTS,
    Digest,
    DigestInput,
    check_inputs,
    make_digest,
)
from ...models.errors import InputError
from ...models.reading.article import file_bytes, read_article
from ...models.reading.extract import RECORD_FILES, SUFFIXES, kinds_in_words
from ...models.reading.records import Record
from ..admission import Tally, read_records
from ..service import EXAMPLE, ServeOptions, reader_message
from .render import render_error, render_status
from .render_digest import render_digest
from .views import view

SEPARATOR = re.compile(r"^\s*-{3,}\s*(.*?)\s*$")
COVERAGE_EXAMPLE = EXAMPLE.parent / "coverage_ar.txt"
REQUEST_ERRORS = ("too_many_documents", "too_long", "cancelled")  # the request's, not a file's
EXAMPLE_SET = "coverage of the Brussels meeting (6 articles)"


class Stopped(Exception):
    """The reader pressed Cancel: the digest's work stops after the current model batch."""


def split_pasted(text: str | None) -> list[DigestInput]:
    """Articles pasted one after another, a line of three or more dashes before each but the
    first; words after the dashes name the next article's outlet (`--- Reuters`)."""
    articles: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in (text or "").splitlines():
        m = SEPARATOR.match(line)
        if m:
            articles.append((m.group(1) or None, []))
        else:
            articles[-1][1].append(line)
    found = [(name, "\n".join(lines)) for name, lines in articles if "".join(lines).strip()]
    return [
        DigestInput(f"article-{k}", body, outlet=name) for k, (name, body) in enumerate(found, 1)
    ]


def uploaded(
    paths: list[str] | None, tally: Tally, cancel=None, progress=None
) -> list[DigestInput]:
    """Uploaded files (.txt, .html, .docx, .pdf, or .jsonl/.csv/.parquet records) as digest
    inputs, named by their file names (a server path never reaches the page: messages that
    name one are rewritten). Counted into `tally` as each is read: the files sent are counted
    before any is read, and reading stops at the first that passes the allowance.
    `progress(n)` is told after each file how many are read."""
    paths = list(paths or [])
    documents = [p for p in paths if Path(p).suffix.lower() not in RECORD_FILES]
    tally.take(0, len(documents))  # one document each, counted before any is read
    allowance = tally.allowance
    out = []
    for n, path in enumerate(paths, 1):
        name = Path(path).name
        if path not in documents:
            try:
                records = read_records(file_bytes(Path(path), name), name, tally, cancel=cancel)
            except InputError as exc:
                if exc.code in REQUEST_ERRORS:
                    raise
                records = [Record(name, name, error=exc)]
        else:
            try:
                article = read_article(Path(path), name, allowance.budget, None, cancel,
                                       allowance.max_chars)  # fmt: skip
                record = Record(name, name, text=article.text, about=article.source)
            except InputError as exc:
                if exc.code in ("cancelled",):
                    raise
                record = Record(name, name, error=exc)
            tally.take(len(record.text or ""), 0)  # the document was counted above
            records = [record]
        for r in records:
            error = r.error
            if error is None and r.text is None and r.url:
                error = InputError(
                    f"Record {r.id} gives a link, which this tab does not fetch: put the "
                    "article's text in the record's text field.",
                    "urls_off",
                )
            if error is not None:
                error = InputError(str(error).replace(str(path), name), getattr(error, "code", ""))
            about = r.about
            out.append(
                DigestInput(
                    r.id.replace(str(path), name),
                    r.text,
                    title=about.get("title"),
                    outlet=about.get("outlet"),
                    date=about.get("date"),
                    error=error,
                )
            )
        if progress is not None:
            progress(n)
    return out


def example_text() -> str:
    """The Coverage tab's example: the constructed coverage set (khulasa.eval.coverage_set),
    as it is pasted, one `--- outlet` line before each article."""
    return COVERAGE_EXAMPLE.read_text(encoding="utf-8").strip()


class CoveragePage:
    def __init__(self, page):
        self.page = page  # web.Page: options, pool, gate, guard, downloads
        self.options: ServeOptions = page.options

    def run(self, files, pasted, summarizer, points, request: gr.Request):
        """The digest run: checks, progress while the models work, then the digest."""
        started = time.perf_counter()
        try:
            self.page.admit(request)
            items = split_pasted(pasted)
            limits = self.options.digest_limits(self.options.max_chars)
            tally = Tally(self.page.allowance(limits.max_docs, limits.max_total))
            for item in items:  # what was pasted is counted first, then each file as it comes
                tally.take(len(item.text or ""))
            if files:  # reading is work: under a model slot and the reading budget
                tally.expect(sum(Path(f).suffix.lower() not in RECORD_FILES for f in files))
                yield _view(render_status(None, "Reading the files…", elapsed=0), gr.skip(),
                            busy=True)  # fmt: skip
                with self.page.gate.job(), self.page.reading(request) as cancel:
                    items = (yield from _reading(files, tally, cancel, started)) + items
            check_inputs([DigestInput(i.id, i.text) for i in items], limits)
        except Exception as exc:
            yield _view(render_error(reader_message(exc)), "", busy=False)
            return
        events: queue.Queue = queue.Queue()
        stop = threading.Event()
        points = int(points or DIGEST_POINTS)
        worker = threading.Thread(
            target=self._work, args=(items, summarizer, points, limits, events, stop), daemon=True
        )
        worker.start()
        stage = "Waiting for a free slot…"
        try:
            while True:
                try:
                    kind, value = events.get(timeout=0.5)
                except queue.Empty:
                    kind, value = "tick", None
                if kind == "stage":
                    stage = value
                elif kind in ("done", "error"):
                    break
                status = render_status(None, stage, elapsed=time.perf_counter() - started)
                yield _view(status, gr.skip(), busy=True)
        finally:
            stop.set()  # Cancel closes this generator: the worker stops at its next batch
        if kind == "error":
            yield _view(render_error(reader_message(value)), "", busy=False)
            return
        files_out = _write_downloads(value, self.page.downloads.folder())
        counts = value.meta["counts"]
        done = (
            f"Done: {counts['read']} of {counts['documents']} articles in {counts['stories']} "
            f"stories, {len(value.key_points)} key points."
        )
        status = render_status(None, done, state="done", elapsed=time.perf_counter() - started)
        yield _view(status, render_digest(value), busy=False, files=files_out)

    def _work(self, items, summarizer, points, limits, events, stop) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            if stop.is_set():
                raise Stopped("Stopped.")
            text = f"Translating: {done} of {total} sentences…" if stage == "translate" else stage
            events.put(("stage", text))

        try:
            with self.page.gate.job():
                if stop.is_set():
                    return
                pipeline = self.page.pool.get(None, summarizer, None)
                events.put(("stage", "Translating…"))
                digest = make_digest(pipeline, items, points, limits, progress)
            events.put(("done", digest))
        except Stopped:
            return
        except Exception as exc:  # the reader gets a message, the log the details
            events.put(("error", exc))

    def stopped(self, request: gr.Request = None):
        self.page.cancel_reads(request)
        status = render_status(None, "Stopped.", state="stopped")
        return _view(status, gr.skip(), busy=False)


def _reading(files: list[str], tally: Tally, cancel: threading.Event, started: float):
    """Read the uploaded files (`uploaded`) in a thread, showing how many are read every half
    second; their digest inputs. When this generator is closed (Cancel, or a reader who went
    away and whose event Gradio drops) the read is stopped: its worker is killed."""
    done: dict = {}

    def work() -> None:
        try:
            done["items"] = uploaded(files, tally, cancel, lambda n: done.update(read=n))
        except BaseException as exc:  # raised again in the run, which shows it
            done["error"] = exc

    reader = threading.Thread(target=work, daemon=True, name="khulasa-coverage-read")
    reader.start()
    try:
        while reader.is_alive():
            reader.join(0.5)
            if reader.is_alive():
                stage = f"Reading the files… ({done.get('read', 0)} of {len(files)} read)"
                status = render_status(None, stage, elapsed=time.perf_counter() - started)
                yield _view(status, gr.skip(), busy=True)
    finally:
        if reader.is_alive():
            cancel.set()
    if "error" in done:
        raise done["error"]
    return done["items"]


def _view(status, results, busy: bool, files=(None, None)) -> tuple:
    json_path, md_path = files
    return (
        status,
        results,
        gr.Button("Working…" if busy else "Make digest", interactive=not busy),
        gr.Button(visible=busy),
        gr.DownloadButton(value=str(json_path) if json_path else None, interactive=bool(json_path)),
        gr.DownloadButton(value=str(md_path) if md_path else None, interactive=bool(md_path)),
    )


def _write_downloads(digest: Digest, folder: Path) -> tuple[Path, Path]:
    stem = f"digest-{str(digest.meta.get('created', ''))[:10] or 'undated'}"
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    json_path.write_text(digest.to_json(), encoding="utf-8")
    md_path.write_text(digest.to_markdown(), encoding="utf-8")
    return json_path, md_path


def build_coverage_tab(page, pool) -> None:
    """The tab's inputs, buttons, status, results and downloads, and their events (inside
    the page's Blocks)."""
    coverage = CoveragePage(page)
    options = page.options
    noprint = ["kh-noprint"]
    gr.HTML(
        view("page.html", "coverage_intro", options.digest_docs, options.max_chars,
             options.digest_chars),
        elem_classes=noprint,
    )  # fmt: skip
    with gr.Row(elem_classes=noprint):
        files = gr.File(
            label=f"Articles as files ({kinds_in_words()}: one article each; or "
            f"{' / '.join(RECORD_FILES)} records)",
            file_count="multiple",
            file_types=[*SUFFIXES, *RECORD_FILES],
            elem_id="kh-dfiles",
        )
        pasted = gr.Textbox(
            label="Or paste articles, a line of three dashes (---) before each; words after "
            "the dashes name its outlet",
            lines=8,
            max_lines=16,
            rtl=True,
            elem_id="kh-dinput",
        )
    with gr.Accordion("Options", open=False, elem_classes=noprint), gr.Row():
        summarizer = gr.Dropdown(
            pool.offered("summarizer"), value=pool.offered("summarizer")[0], label="Key points by"
        )
        points = gr.Slider(1, 10, step=1, value=DIGEST_POINTS, label="Key points")
    with gr.Row(elem_classes=noprint):
        run = gr.Button("Make digest", variant="primary", elem_id="kh-drun")
        example = gr.Button(f"Example: {EXAMPLE_SET}", elem_id="kh-dexample")
        cancel = gr.Button("Cancel", variant="stop", visible=False, elem_id="kh-dcancel")
    status = gr.HTML(render_status(None, "", state="idle"), elem_id="kh-dstatus",
                     elem_classes=noprint)  # fmt: skip
    results = gr.HTML("", elem_id="kh-digest")
    with gr.Row(elem_classes=noprint):
        json_file = gr.DownloadButton("Download JSON", interactive=False, elem_id="kh-djson")
        md_file = gr.DownloadButton("Download Markdown", interactive=False, elem_id="kh-dmd")
    outputs = [status, results, run, cancel, json_file, md_file]
    job = dict(show_progress="hidden", api_visibility="private")
    runs = [
        run.click(coverage.run, [files, pasted, summarizer, points], outputs, **job),
        example.click(example_text, None, pasted, queue=False, api_visibility="private").then(
            coverage.run, [files, pasted, summarizer, points], outputs, **job
        ),
    ]
    cancel.click(coverage.stopped, None, outputs, cancels=runs, queue=False,
                 api_visibility="private")  # fmt: skip


__all__ = ["CoveragePage", "build_coverage_tab", "split_pasted", "uploaded"]
