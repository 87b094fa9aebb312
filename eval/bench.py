"""`khulasa bench`: speed of the translation paths side by side, on the sample article.

Full-size replicas (the real architectures, random weights; built once and cached under
KHULASA_HOME/replicas) with forced output lengths: every path writes ceil(1.25 x source
tokens) per sentence (the one-call demo path: per article), since speed does not depend on
weight values but does on how many tokens are written. Each figure is the median of `runs`
timed runs after a warm-up run.

Paths: `demo-path` (one `generate` call on the whole article, PyTorch, truncated at 512 source
tokens, as the typical demo does), `khulasa-torch` and `khulasa-ct2` (our pipeline), `raw-ct2`
(CTranslate2 `translate_batch` on the same pre-tokenised pieces in the same batches, nothing
else: the difference to `khulasa-ct2` is our segmentation and bookkeeping), and end to end
for the `quality` and `fast` presets (each in a fresh process, for its peak RSS; the summariser
reads the team's reference English of the same segments, since a random-weight translator
writes no English).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ..models.env import versions
from .replicas import DATA_DIR as DATA
from .replicas import (  # noqa: F401 (forced_length, replica: the benchmarks' own, here too)
    SIZES,
    SUMMARY_TOKENS,
    arabic_text,
    build_replica,
    forced_length,
    replica,
    say,
)

DEMO_TRUNCATION = 512
# Pairings timed end to end: (translator preset, summariser preset, beams). Not model
# presets themselves; each names two of them.
PAIRINGS = {
    "quality": ("opus-mt-tc-big", "distilbart-cnn", 4),
    "fast": ("opus-mt", "extractive", 4),
}


def median_time(fn, runs: int, label: str | None = None) -> float:
    started = time.perf_counter()
    fn()  # warm-up: conversions, caches, allocator
    warm = time.perf_counter() - started
    if label:
        say(f"{label}: warm-up {warm:.1f} s; {runs} timed runs, about {runs * warm:.0f} s")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def translation_paths(translator: str, beams: int, runs: int, root: Path | None, size: str) -> dict:
    """Seconds for the four translation paths, and the token counts they share."""
    import torch

    from ..models.factory import load_translator
    from ..models.pipeline import Pipeline, segment
    from ..models.translate import PerRowCap, eos_id

    path = str(replica(translator, root, size))
    text = arabic_text()
    torch_tr = load_translator(path, beams=beams, backend="torch")
    torch_tr.length_rule = forced_length
    pieces = [p for s in segment(text).segments for p in torch_tr.pieces(s.source)]
    source_tokens = [torch_tr.count_tokens(p) for p in pieces]
    output_tokens = sum(forced_length(n, torch_tr.output_limit) - 2 for n in source_tokens)

    loaded, tok = torch_tr.loaded, torch_tr.tokenizer
    whole = tok(text, return_tensors="pt")["input_ids"].shape[1]
    demo_batch = tok(
        text,
        return_tensors="pt",
        truncation=True,
        max_length=min(DEMO_TRUNCATION, torch_tr.source_limit),
    )
    demo_cap = forced_length(demo_batch["input_ids"].shape[1], torch_tr.output_limit)

    def demo():
        with torch.inference_mode():
            loaded.model.generate(
                **demo_batch,
                num_beams=beams,
                max_length=demo_cap,
                logits_processor=[PerRowCap([demo_cap], beams, eos_id(loaded.generation_config))],
            )

    # The PyTorch paths are timed before a CTranslate2 engine exists in this process: its
    # thread settings would otherwise slow PyTorch's.
    seconds = {
        "demo-path": median_time(demo, runs, "demo-path"),
        "khulasa-torch": median_time(
            lambda: Pipeline(torch_tr, checks=False).process(text, False), runs, "khulasa-torch"
        ),
    }
    ct2_tr = load_translator(path, beams=beams, backend="ct2")
    ct2_tr.length_rule = forced_length
    seconds["khulasa-ct2"] = median_time(
        lambda: Pipeline(ct2_tr, checks=False).process(text, False), runs, "khulasa-ct2"
    )
    seconds["raw-ct2"] = median_time(raw_ct2(ct2_tr, pieces, beams), runs, "raw-ct2")
    return {
        "seconds": seconds,
        "source_tokens": sum(source_tokens),
        "output_tokens": output_tokens,
        "segments": len(pieces),
        "demo_source_tokens": int(demo_batch["input_ids"].shape[1]),
        "demo_dropped_source_tokens": int(whole - demo_batch["input_ids"].shape[1]),
    }


def raw_ct2(ct2_tr, pieces: list[str], beams: int):
    """CTranslate2 alone on our batches: the same engine calls as khulasa-ct2 (all batches
    queued, then awaited) on pre-tokenised pieces, nothing else."""
    tok = ct2_tr.tokenizer
    tokens = [tok.convert_ids_to_tokens(tok(p)["input_ids"]) for p in pieces]
    groups = ct2_tr.batches(pieces)

    def run():
        jobs = []
        for group in groups:
            cap = max(forced_length(len(tokens[i]), ct2_tr.output_limit) for i in group)
            jobs += ct2_tr.engine.translate_batch(
                [tokens[i] for i in group],
                beam_size=beams,
                max_decoding_length=cap - 1,
                max_input_length=0,
                asynchronous=True,
                **ct2_tr._options,
            )
        for job in jobs:
            job.result()

    return run


class ReferenceInput:
    """Gives the summariser the team's reference English of the same 16 segments: a
    random-weight translator writes no English, and the filler tokens it does write would
    blow the summariser's input up several times over a real translation's length."""

    def __init__(self, inner):
        self.inner = inner
        self.english = (DATA / "brussels.sent.en").read_text(encoding="utf-8").splitlines()

    @property
    def settings(self) -> dict:
        return self.inner.settings

    def summarize(self, segments, sentences=None):
        if len(segments) != len(self.english):
            raise ValueError("the reference English is for the sample article only")
        return self.inner.summarize(
            [(i, en) for (i, _), en in zip(segments, self.english, strict=True)], sentences
        )


def prepare(pairing: str, root: Path | None, size: str) -> None:
    """Build and convert a preset's models before it is timed in a fresh process, so that
    process's peak RSS is the steady state, not a one-off conversion."""
    from ..models.ct2 import converted_dir, default_compute_type
    from ..models.loading import find, load_seq2seq, pick_device

    translator, summarizer, _ = PAIRINGS[pairing]
    for spec, kind in ((translator, "translator"), (summarizer, "summarizer")):
        if spec != "extractive":
            ref, path = find(str(replica(spec, root, size)), kind)
            loaded = load_seq2seq(ref, path, pick_device("auto"), weights=False)
            converted_dir(loaded, default_compute_type(loaded.device))


def end_to_end(pairing: str, runs: int, root: Path | None, size: str) -> dict:
    """Translation + summary for a pairing (auto backend), and time to the first sentence."""
    from ..models.factory import load_pipeline

    translator, summarizer, beams = PAIRINGS[pairing]
    summ_spec = str(replica(summarizer, root, size)) if summarizer != "extractive" else summarizer
    pipeline = load_pipeline(str(replica(translator, root, size)), summ_spec, beams)
    pipeline.translator.length_rule = forced_length
    if hasattr(pipeline.summarizer, "output_limit"):
        pipeline.summarizer.output_limit = SUMMARY_TOKENS + 2
    pipeline.summarizer = ReferenceInput(pipeline.summarizer)
    # Random weights write text every check flags, and every flagged sentence would be
    # retried: the end-to-end figures are timed without the checks, whose cost (on text that
    # passes them) and the retry's (every sentence once more) are timed apart, below.
    pipeline.checks = False
    text = arabic_text()

    def first_sentence() -> float:
        """Seconds to the first translated sentence. The stream runs to its end, so queued
        batches of one run never delay the next."""
        t0, first = time.perf_counter(), None
        for doc in pipeline.stream(text):
            if first is None and any(s.english for s in doc.segments):
                first = time.perf_counter() - t0
        return first

    seconds = median_time(lambda: pipeline.process(text), runs)
    first_sentence()  # warm-up
    first = statistics.median(first_sentence() for _ in range(runs))
    return {
        "seconds": seconds,
        "first_sentence": first,
        "peak_rss_mb": peak_rss_mb(),
        "backend": pipeline.translator.backend,
        "trust": trust_costs(pipeline, text, runs, seconds),
    }


def trust_costs(pipeline, text: str, runs: int, end_to_end: float) -> dict:
    """What the trust signals cost on the article. Checks: every sentence pair and summary
    sentence checked, on the team's reference English (which passes every check, as a good
    translation does). Retry: the worst case, every sentence translated a second time with
    the second-try decoding (forced lengths)."""
    from ..models.checks import check_pair, check_summary
    from ..models.pipeline import segment

    sources = [s.source for s in segment(text).segments]
    english = (DATA / "brussels.sent.en").read_text(encoding="utf-8").splitlines()
    summary = (DATA / "brussels_summary_en.txt").read_text(encoding="utf-8").split(". ")

    def run_checks():
        flagged = [check_pair(a, e, -0.5) for a, e in zip(sources, english, strict=True)]
        flagged += [check_summary(s, english, english) for s in summary]
        assert not any(flagged), flagged

    checks_s = median_time(run_checks, max(runs, 5))
    pieces = [p for s in sources for p in pipeline.translator.pieces(s)]
    retry_s = median_time(
        lambda: list(pipeline.translator.translate_iter(pieces, retry=True)), runs
    )
    return {
        "checks_ms": round(checks_s * 1000, 2),
        "checks_share_of_end_to_end": round(checks_s / end_to_end, 4),
        "retry_every_sentence_s": round(retry_s, 2),
        "retry_share_of_end_to_end": round(retry_s / end_to_end, 2),
    }


def peak_rss_mb() -> int:
    """This process's peak resident memory. VmHWM, not getrusage: ru_maxrss survives exec on
    Linux, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _in_fresh_process(pairing: str, runs: int, root: Path | None, size: str) -> dict:
    prepare(pairing, root, size)
    cmd = [
        sys.executable,
        "-m",
        "khulasa.serve",
        "bench",
        "--e2e",
        pairing,
        "--runs",
        str(runs),
        "--size",
        size,
    ]
    if root:
        cmd += ["--replica-root", str(root)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"end-to-end {pairing} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(
    translator: str = "opus-mt-tc-big",
    beams: int = 4,
    runs: int = 3,
    root: Path | None = None,
    size: str = "full",
) -> dict:
    say(f"1 of 3: the four translation paths of {translator}, beams {beams}")
    paths = translation_paths(translator, beams, runs, root, size)
    say("2 of 3: end to end, the quality pairing, in a fresh process")
    quality = _in_fresh_process("quality", runs, root, size)
    say("3 of 3: end to end, the fast pairing, in a fresh process")
    fast = _in_fresh_process("fast", runs, root, size)
    s = {k: round(v, 3) for k, v in paths["seconds"].items()}
    s.update(
        {
            "end-to-end-quality": round(quality["seconds"], 3),
            "end-to-end-fast": round(fast["seconds"], 3),
            "first-sentence": round(quality["first_sentence"], 3),
        }
    )
    return {
        "article": "brussels_ar",
        "cores": os.cpu_count(),
        "translator": translator,
        "beams": beams,
        "runs": runs,
        "output_tokens": paths["output_tokens"],
        "source_tokens": paths["source_tokens"],
        "segments": paths["segments"],
        "demo_source_tokens": paths["demo_source_tokens"],
        "demo_dropped_source_tokens": paths["demo_dropped_source_tokens"],
        "seconds": s,
        "ratios": {
            "demo_over_khulasa": round(s["demo-path"] / s["khulasa-ct2"], 2),
            "khulasa_over_raw_ct2": round(s["khulasa-ct2"] / s["raw-ct2"], 3),
        },
        "peak_rss_mb": quality["peak_rss_mb"],
        "trust": {"quality": quality["trust"], "fast": fast["trust"]},
        "peak_rss_mb_fast": fast["peak_rss_mb"],
        "versions": dict(versions()),
        "weights": f"{size} replicas, random weights, forced output lengths",
    }


def _add_options(parser: argparse.ArgumentParser) -> None:
    from ..models.presets import names
    from .bench_load import add_options as add_load_options

    parser.add_argument(
        "what",
        nargs="?",
        choices=["paths", "load"],
        default="paths",
        help="paths: the translation paths on one article (default); load: many readers at "
        "once against a server it starts, per engine (khulasa bench load --help)",
    )
    add_load_options(parser)

    parser.add_argument(
        "--translator",
        default="opus-mt-tc-big",
        choices=names("translator"),
        help="the preset whose architecture is timed (default: opus-mt-tc-big)",
    )
    parser.add_argument(
        "--beams", type=int, default=4, metavar="N", help="beam size of every path (default: 4)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        metavar="N",
        help="timed runs per figure, the median reported (default: 3)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--replica-root",
        type=Path,
        default=None,
        metavar="DIR",
        help="where full-size replicas are cached (default: $KHULASA_HOME/replicas)",
    )
    parser.add_argument(
        "--size",
        choices=SIZES,
        default="full",
        help="replica size: full (real architecture; default) or tiny (a "
        "smoke test of the bench itself; its timings mean nothing)",
    )
    parser.add_argument("--e2e", choices=sorted(PAIRINGS), help=argparse.SUPPRESS)
    parser.set_defaults(run=_run_args)


def register(sub) -> None:
    """`khulasa bench` as a subcommand of the khulasa CLI."""
    be = sub.add_parser(
        "bench",
        help="time the translation paths on full-size replicas",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_options(be)


def _run_args(args: argparse.Namespace) -> int:
    if args.what == "load":
        from .bench_load import run_args

        return run_args(args)
    if args.e2e:  # child mode: one pairing end to end, in its own process
        print(json.dumps(end_to_end(args.e2e, args.runs, args.replica_root, args.size)))
        return 0
    result = run(args.translator, args.beams, args.runs, args.replica_root, args.size)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, sec in result["seconds"].items():
            print(f"{name:20s} {sec:8.2f} s")
        print(f"ratios: {result['ratios']}  peak RSS (quality): {result['peak_rss_mb']} MB")
    return 0
