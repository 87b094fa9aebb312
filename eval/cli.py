"""`khulasa eval`: translation and summary quality with signatures, and the known sets.

    khulasa eval translation --src FILE --ref FILE [--translator ...] [--json]
    khulasa eval summary (--pred FILE | --src ARTICLE...) --ref FILE [--json]
    khulasa eval trust [--json]
    khulasa eval sets [--verify NAME FILE]

Every run appends one row per model x set x metric to a JSONL results file
(default $KHULASA_HOME/eval-results.jsonl), so runs can be diffed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..models.env import RESULT_PACKAGES
from ..models.errors import InputError
from ..models.options import ModelOptions, add_arguments
from ..models.text import decode_utf8
from .sets import EVAL_SETS, sha256_of


def _versions() -> dict:
    from ..models.env import versions

    return dict(versions((*RESULT_PACKAGES, "sacrebleu", "rouge-score")))


def _read(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"No such file: {path}.", "file_not_found")
    return decode_utf8(path.read_bytes(), str(path))


def _lines(path: Path) -> list[str]:
    text = _read(path)
    return text.rstrip("\n").split("\n") if text.strip() else []


def _append_results(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _rows(set_name: str, model: dict, scores: dict, extra: dict) -> list[dict]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return [
        {
            "time": stamp,
            "set": set_name,
            **{f"model_{k}": v for k, v in model.items()},
            "metric": metric,
            "score": s["score"],
            "signature": s["signature"],
            **extra,
        }
        for metric, s in scores.items()
    ]


def translate_lines(translator, lines: list[str]) -> list[str]:
    """One English line per source line: no re-splitting into sentences, but a line over the
    model's limit is translated in pieces and joined (never truncated)."""
    pieces, owner = [], []
    for i, line in enumerate(lines):
        parts = translator.pieces(line) if line.strip() else []
        pieces += parts
        owner += [i] * len(parts)
    english = translator.translate(pieces)
    out = [[] for _ in lines]
    for i, text in zip(owner, english, strict=True):
        out[i].append(text)
    return [" ".join(parts) for parts in out]


def cmd_translation(args: argparse.Namespace) -> dict:
    from ..models.factory import build_translator

    src, ref = _lines(args.src), _lines(args.ref)
    if len(src) != len(ref):
        raise InputError(
            f"{args.src} has {len(src)} lines but {args.ref} has {len(ref)}: "
            f"they must be aligned, one segment per line.",
            "misaligned",
        )
    translator = build_translator(ModelOptions.from_args(args, summarizer="none"))
    started = time.perf_counter()
    hyps = translate_lines(translator, src)
    seconds = time.perf_counter() - started
    from .metrics import translation_scores

    scores = translation_scores(hyps, ref)
    set_name = args.set or args.src.name
    versions = _versions()
    _append_results(
        args.results,
        _rows(set_name, translator.settings, scores, {"segments": len(src), "versions": versions}),
    )
    if args.output:
        args.output.write_text("\n".join(hyps) + "\n", encoding="utf-8")
    return {
        "task": "translation",
        "set": set_name,
        "segments": len(src),
        "seconds": round(seconds, 2),
        "scores": scores,
        "translator": translator.settings,
        "versions": versions,
        "results_file": str(args.results),
    }


def cmd_summary(args: argparse.Namespace) -> dict:
    refs = _lines(args.ref)
    supported = total = None
    model = {"model": "predictions", "file": str(args.pred)} if args.pred else None
    if args.pred:
        preds = _lines(args.pred)
    else:
        from ..models.factory import build_pipeline

        articles = [_read(p) for p in args.src]  # a bad file fails before any model loads
        pipeline = build_pipeline(ModelOptions.from_args(args))
        docs = [pipeline.process(article) for article in articles]
        preds = [" ".join(s.text for s in d.summary) for d in docs]
        total = sum(len(d.summary) for d in docs)
        supported = sum(1 for d in docs for s in d.summary if s.sources)
        model = pipeline.summarizer.settings if pipeline.summarizer else {"model": "none"}
    from .metrics import summary_scores

    scores = summary_scores(preds, refs)
    set_name = args.set or args.ref.name
    versions = _versions()
    extra = {
        "summaries": len(preds),
        "sentences": total,
        "with_sources": supported,
        "versions": versions,
    }
    _append_results(args.results, _rows(set_name, model, scores, extra))
    return {
        "task": "summary",
        "set": set_name,
        "summaries": len(preds),
        "scores": scores,
        "summary_sentences": total,
        "summary_sentences_with_sources": supported,
        "summarizer": model,
        "versions": versions,
        "results_file": str(args.results),
    }


def cmd_trust(args: argparse.Namespace) -> dict:
    from .trust import run

    return run(args.seed)


def cmd_sets(args: argparse.Namespace) -> dict:
    if not args.verify:
        return {"sets": [vars(s) for s in EVAL_SETS.values()]}
    name, file = args.verify
    if name not in EVAL_SETS:
        raise InputError(f"Unknown set {name!r}; known: {', '.join(EVAL_SETS)}.", "unknown_set")
    path = Path(file)
    if not path.is_file():
        raise InputError(f"No such file: {path}.", "file_not_found")
    expected, actual = EVAL_SETS[name].sha256, sha256_of(path)
    if expected is None:
        return {
            "set": name,
            "file": str(path),
            "sha256": actual,
            "verified": None,
            "note": "no checksum is recorded for this set yet; compare with the publisher",
        }
    if actual != expected:
        raise InputError(
            f"CHECKSUM MISMATCH for {name}: {path} has sha256 {actual}, expected "
            f"{expected}. It is not the published {EVAL_SETS[name].file}: fetch it "
            f"again from {EVAL_SETS[name].url}.",
            "checksum_mismatch",
        )
    return {"set": name, "file": str(path), "sha256": actual, "verified": True}


def _add_tasks(parser: argparse.ArgumentParser) -> None:
    from ..models.env import khulasa_home

    sub = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    results = khulasa_home() / "eval-results.jsonl"
    shown = "$KHULASA_HOME/eval-results.jsonl"  # as every other default under the home is said

    def common(p, summarizer: bool = False):
        add_arguments(p, summarizer=summarizer)
        p.add_argument("--set", default=None, help="name for the results (default: file name)")
        p.add_argument(
            "--results",
            type=Path,
            default=results,
            help=f"JSONL the scores are appended to (default: {shown})",
        )
        p.add_argument("--json", action="store_true", help="print the result as JSON")

    tr = sub.add_parser("translation", help="BLEU, chrF, chrF++ of a translator")
    tr.add_argument("--src", type=Path, required=True, help="Arabic, one segment per line")
    tr.add_argument("--ref", type=Path, required=True, help="English references, aligned")
    tr.add_argument("--output", type=Path, default=None, help="also write the translations")
    common(tr)
    tr.set_defaults(run=lambda args: _report(args, cmd_translation))

    su = sub.add_parser("summary", help="ROUGE-1/2/L of summaries, and their provenance")
    given = su.add_mutually_exclusive_group(required=True)
    given.add_argument("--pred", type=Path, help="summaries, one per line")
    given.add_argument("--src", type=Path, nargs="+", help="Arabic articles to summarise")
    su.add_argument("--ref", type=Path, required=True, help="reference summaries, one per line")
    common(su, summarizer=True)
    su.set_defaults(run=lambda args: _report(args, cmd_summary))

    tu = sub.add_parser(
        "trust",
        help="recall and false flags of the trust checks, on "
        "fault-injected copies of the team's references",
    )
    tu.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    tu.add_argument("--json", action="store_true", help="print the result as JSON")
    tu.set_defaults(run=lambda args: _report(args, cmd_trust))

    gl = sub.add_parser(
        "glossary",
        help="pinned spellings applied, on the team's references with planted n-best lists",
    )
    gl.add_argument("--json", action="store_true", help="print the result as JSON")
    gl.set_defaults(run=lambda args: _report(args, cmd_glossary))

    se = sub.add_parser("sets", help="known evaluation sets; --verify checks a file")
    se.add_argument(
        "--verify",
        nargs=2,
        metavar=("NAME", "FILE"),
        help=f"check that FILE is the set NAME ({', '.join(EVAL_SETS)}) by its SHA-256",
    )
    se.add_argument("--json", action="store_true", help="print the result as JSON")
    se.set_defaults(run=lambda args: _report(args, cmd_sets))


def cmd_glossary(args: argparse.Namespace) -> dict:
    from .glossary import run

    return run()


def register(sub) -> None:
    """`khulasa eval` as a subcommand of the khulasa CLI."""
    ev = sub.add_parser(
        "eval",
        help="translation and summary quality, evaluation sets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_tasks(ev)


def _report(args: argparse.Namespace, task) -> int:
    """Run `task` and print its result (errors go to the caller: KhulasaError -> exit 1)."""
    result = task(args)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif "sets" in result:
        for s in result["sets"]:
            print(
                f"{s['name']:22s} {s['pair']:18s} {s['licence']:13s} {s['url']}\n"
                f"{'':22s} sha256({s['file']}) = {s['sha256'] or 'not recorded'}\n"
                f"{'':22s} {s['contents']}"
            )
    elif "checks" in result:
        for flag, r in result["checks"].items():
            print(
                f"{flag:28s} recall {r['recall']:.3f} on {r['fault_cases']:3d} faults, "
                f"false flags {r['false_flag_rate']:.3f}"
            )
        print(
            f"clean references with any flag: {result['clean_with_any_flag']:.3f} "
            f"(data sha256 {result['data']['sha256'][:16]}…)"
        )
    elif "scores" in result:
        for metric, s in result["scores"].items():
            print(f"{metric:8s} {s['score']:8.2f}  {s['signature']}")
        if result.get("summary_sentences") is not None:
            print(
                f"summary sentences with sources: {result['summary_sentences_with_sources']}"
                f" of {result['summary_sentences']}"
            )
    else:
        print(json.dumps(result, indent=2))
    return 0
