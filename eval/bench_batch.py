"""Batch throughput: `khulasa batch` (documents share length-sorted model batches) against a
loop calling the core once per document, on N copies of the sample article, memory off.

Full-size replica (random weights) with forced output lengths (1.25 x source tokens), since
speed does not depend on weight values:

    python -m khulasa.eval.bench_batch --copies 50 --translator opus-mt [--backend torch]

With --engine (local, ray or both), the engines themselves instead: `--engine ray` against
`--engine local` on the same corpus (eval/bench_engines.py), one JSONL or, with
`--folder small|large|held-out`, a folder of files.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from .bench import forced_length
from .bench_engines import FOLDERS
from .replicas import arabic_text, build_replica


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--translator", default="opus-mt")
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--backend", choices=["auto", "torch", "ct2"], default="auto")
    parser.add_argument(
        "--replica-dir", type=Path, default=Path(tempfile.gettempdir()) / "khulasa-replicas"
    )
    parser.add_argument(
        "--engine",
        choices=["local", "ray", "both"],
        help="compare khulasa batch's engines (bench_engines.py) instead",
    )
    parser.add_argument("--batch-docs", type=int, default=16, help="with --engine (default: 16)")
    parser.add_argument("--actors", type=int, help="with --engine ray (default: the planned)")
    parser.add_argument(
        "--folder",
        choices=FOLDERS,
        help="with --engine: a folder of files instead of one JSONL of --copies articles "
        "(small: 1,000 one-sentence .txt; large: 100 whole-article .docx; held-out: 4 "
        "articles x 25 copies + 2 bad files)",
    )
    args = parser.parse_args(argv)
    if args.engine:
        from .bench_engines import main as engines

        return engines(args)

    from ..models.factory import load_translator
    from ..models.pipeline import Pipeline

    path = args.replica_dir / f"{args.translator}-full"
    if not (path / "config.json").exists():
        build_replica(args.translator, path, size="full")
    translator = load_translator(str(path), beams=args.beams, backend=args.backend)
    translator.length_rule = forced_length
    pipeline = Pipeline(translator, checks=False)  # replicas would flag and retry everything
    texts = [arabic_text()] * args.copies
    pipeline.process(texts[0], summary=False)  # warm-up

    t0 = time.perf_counter()
    loop_docs = [pipeline.process(t, summary=False) for t in texts]
    loop_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    shared_docs = []
    for start in range(0, len(texts), 16):  # as `khulasa batch` does (--batch-docs 16)
        shared_docs += pipeline.process_many(texts[start : start + 16], summary=False)
    shared_s = time.perf_counter() - t0
    sentences = sum(len(d.segments) for d in loop_docs)
    assert sentences == sum(len(d.segments) for d in shared_docs)
    result = {
        "article": "brussels_ar",
        "copies": args.copies,
        "sentences": sentences,
        "translator": f"{args.translator} (full-size replica)",
        "beams": args.beams,
        "backend": translator.backend,
        "seconds": {"loop": round(loop_s, 1), "batch": round(shared_s, 1)},
        "sentences_per_s": {
            "loop": round(sentences / loop_s, 2),
            "batch": round(sentences / shared_s, 2),
        },
        "speedup": round(loop_s / shared_s, 2),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
