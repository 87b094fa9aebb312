"""`khulasa batch --engine ray` against `--engine local` on the same corpus, both through the
real engines (`run_ray`, `run_batch`): N distinct copies of the sample article (each copy's
sentences numbered, so no sentence is shared between copies), full-size replica, forced
output lengths (1.25 x source tokens: speed does not depend on weight values), memory off,
no summary, trust checks off (random weights would flag and retry every sentence).

    python -m khulasa.eval.bench_batch --engine ray      # or local, or both (default)

With `--folder small` (1,000 one-sentence .txt files), `--folder large` (100 whole-article
.docx files) or `--folder held-out` (4 articles x 25 copies as .txt files, plus a file that is
not the PDF it claims and a cut UTF-16 file), a folder of files instead of one JSONL: what
Ray's parse stage does with many files. Each engine's peak of processes is sampled every 0.2 s
(Ray's worker processes, `ray::...`; for local, the reader process and its workers).

Reported per engine: the seconds until its first step (`--batch-docs` records) is written
(start-up: inputs read, models loaded, and for Ray its start, the id pass and its actors;
plus the first step itself), steady-state documents/s and sentences/s after that (from
when each step was written: the local file's appends, Ray's part files), and the whole run.
Ray's own start (`ray.init`) is timed apart.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

from .bench import forced_length, replica
from .replicas import arabic_text


def force_lengths() -> None:
    """In this process (and, as Ray's worker setup hook, in every Ray worker): pipelines from
    the factory write forced lengths, checks off."""
    from ..models import factory

    real = factory.build_pipeline
    if getattr(real, "forced", False):
        return

    def build(*args, **kwargs):
        pipeline = real(*args, **kwargs)
        pipeline.checks = False
        pipeline.translator.length_rule = forced_length
        return pipeline

    build.forced = True
    factory.build_pipeline = build


def corpus(path: Path, copies: int) -> int:
    """`copies` copies of the sample, sentence-numbered, as JSONL; the sentence count."""
    from ..models.pipeline import segment

    text = arabic_text()
    lines, sentences = [], 0
    for k in range(copies):
        numbered = _numbered_text(text, k)
        sentences += len(segment(numbered).segments)
        lines.append(json.dumps({"id": f"copy-{k}", "text": numbered}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sentences


FOLDERS = ("small", "large", "held-out")


def folder(path: Path, case: str) -> tuple[int, int]:
    """Write the `case` folder of files at `path`; its file and sentence counts."""
    from ..models.pipeline import segment
    from .replicas import DATA_DIR

    path.mkdir(parents=True)
    sample = arabic_text()
    texts: dict[str, str] = {}
    docs: dict[str, str] = {}
    if case == "small":
        sentences = [s.source for s in segment(sample).segments]
        texts = {f"small-{k:04d}.txt": _numbered(sentences[k % 16], k) for k in range(1000)}
    elif case == "large":
        docs = {f"large-{k:03d}.docx": _numbered_text(sample, k) for k in range(100)}
    else:
        articles = [
            sample,
            _lines(DATA_DIR / "trust.sent.ar")[:12],
            _lines(DATA_DIR / "coverage" / "unrelated.sent.ar"),
            _lines(DATA_DIR / "smoke.ar"),
        ]
        texts = {
            f"article{a}-{k:02d}.txt": _numbered_text(text, k)
            for a, text in enumerate(articles)
            for k in range(25)
        }
        (path / "scan.pdf").write_bytes(b"not a PDF at all")  # type_mismatch
        (path / "cut-utf16.txt").write_bytes("\ufeffنص".encode("utf-16-le")[:-1])
    for name, text in texts.items():
        (path / name).write_text(text, encoding="utf-8")
    for name, text in docs.items():
        _docx(path / name, text)
    files = len(list(path.iterdir()))
    return files, sum(len(segment(t).segments) for t in [*texts.values(), *docs.values()])


def _lines(path: Path) -> str:
    return "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if line)


def _numbered_text(text: str, k: int) -> str:
    return "\n".join(_numbered(line, k + 1) for line in text.splitlines())


def _docx(path: Path, text: str) -> None:
    import docx

    document = docx.Document()
    for paragraph in text.splitlines():
        if paragraph.strip():
            document.add_paragraph(paragraph)
    document.save(str(path))


class PeakProcesses:
    """The most processes below this one seen at once (sampled every 0.2 s): all of them, and
    Ray's workers (`ray::...` command lines) among them."""

    def __init__(self):
        self.peak = self.peak_ray = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while not self._stop.wait(0.2):
            commands = _descendants(os.getpid())
            self.peak = max(self.peak, len(commands))
            self.peak_ray = max(self.peak_ray, sum(c.startswith("ray::") for c in commands))


def _descendants(root: int) -> list[str]:
    """The command lines of every live process below `root` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if stat[0] == "Z":
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
        commands[int(entry.name)] = cmd
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(commands[child])
            todo.append(child)
    return found


def _numbered(line: str, k: int) -> str:
    """`line` with `k` before each sentence's end (and at its end): a distinct sentence."""
    line = re.sub(r"([.!?؟])(\s)", rf" {k}\1\2", line.rstrip())
    if not line:
        return line
    return re.sub(r"([.!?؟])$", rf" {k}\1", line) if line[-1] in ".!?؟" else f"{line} {k}"


def run_engine(engine: str, args, source: Path, work: Path) -> dict:
    from ..models.options import ModelOptions
    from ..serve.batch.local import BatchOptions, run_batch

    models = ModelOptions(
        translator=str(replica(args.translator, args.replica_dir)),
        summarizer="none",
        beams=args.beams,
        backend=args.backend,
    )
    output = work / ("local.jsonl" if engine == "local" else "ray-parts")
    opts = BatchOptions(
        inputs=[str(source)], output=output, models=models, summary=False, quiet=True,
        docs_per_step=args.batch_docs,
    )  # fmt: skip
    ray_init_s = None
    peaks = PeakProcesses()
    if engine == "local":
        force_lengths()
        written = _timed_appends()
        with peaks:
            stats = run_batch(opts, log=lambda _: None)
        steps = [written[i : i + args.batch_docs] for i in range(0, len(written), args.batch_docs)]
        step_ends = [(step[-1], len(step)) for step in steps]
    else:
        import ray

        from ..serve.batch.ray_engine import RayOptions, run_ray

        with peaks:  # Ray's start included: its processes are below this one
            t0 = time.perf_counter()
            ray.init(
                include_dashboard=False,
                logging_level="WARNING",
                runtime_env={"worker_process_setup_hook": f"{__name__}.force_lengths"},
            )
            ray_init_s = time.perf_counter() - t0
            started = time.time() - ray_init_s
            try:
                stats = run_ray(opts, RayOptions(actors=args.actors), "off", log=lambda _: None)
            finally:
                ray.shutdown()
        stats.seconds += ray_init_s
        parts = sorted(output.glob("part-*"), key=lambda p: p.stat().st_mtime)
        step_ends = [(p.stat().st_mtime - started, _count_lines(p)) for p in parts]
    result = _figures(engine, stats, step_ends, ray_init_s)
    result["peak_processes"] = peaks.peak
    if engine == "ray":
        result["peak_ray_workers"] = peaks.peak_ray
    return result


def _timed_appends() -> list[float]:
    """Seconds since now at which the local engine wrote each record (its JSONL appends)."""
    from ..serve.batch.local import JsonlOutput

    times: list[float] = []
    t0 = time.perf_counter()
    real = JsonlOutput.append

    def append(self, record):
        real(self, record)
        times.append(time.perf_counter() - t0)

    JsonlOutput.append = append
    return times


def _count_lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


def _figures(engine: str, stats, step_ends: list[tuple[float, int]], ray_init_s) -> dict:
    """Steady state: the documents after the first step over the time from the first step's
    end to the last's (the first step is part of the start-up: models load, caches warm)."""
    docs = stats.done + stats.failed
    first_end, first_docs = step_ends[0]
    steady_s = step_ends[-1][0] - first_end
    steady_docs = docs - first_docs
    per_doc = stats.sentences / max(docs, 1)
    result = {
        "engine": engine,
        "documents": docs,
        "sentences": stats.sentences,
        "failed": stats.failed,
        "steps": len(step_ends),
        "seconds": round(stats.seconds, 1),
        "first_step_done_s": round(first_end, 1),
        "steady_documents_per_s": round(steady_docs / steady_s, 3),
        "steady_sentences_per_s": round(steady_docs * per_doc / steady_s, 2),
        "overall_documents_per_s": round(docs / stats.seconds, 3),
    }
    if ray_init_s is not None:
        result["ray_init_s"] = round(ray_init_s, 1)
    return result


def main(args) -> dict:
    engines = ["local", "ray"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.folder:
            source = work / "folder"
            files, sentences = folder(source, args.folder)
            corpus_facts = {"folder": args.folder, "files": files}
        else:
            source = work / "corpus.jsonl"
            sentences = corpus(source, args.copies)
            corpus_facts = {"article": "brussels_ar", "copies": args.copies}
        runs = [run_engine(engine, args, source, work) for engine in engines]
    result = {
        **corpus_facts,
        "sentences": sentences,
        "translator": f"{args.translator} (full-size replica)",
        "beams": args.beams,
        "backend": args.backend,
        "batch_docs": args.batch_docs,
        "runs": runs,
    }
    if len(runs) == 2:
        result["ray_over_local_steady"] = round(
            runs[1]["steady_documents_per_s"] / runs[0]["steady_documents_per_s"], 2
        )
    print(json.dumps(result, indent=1))
    return result
