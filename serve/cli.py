"""`khulasa`: one entry point, thin commands. Each command parses its options and calls the
core; heavy imports (torch, transformers, gradio) happen inside the command that needs them,
so `khulasa --help` stays instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.errors import InputError, KhulasaError
from models.presets import DEFAULT_SUMMARIZER, DEFAULT_TRANSLATOR, PRESETS, names
from models.text import decode_utf8


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--translator", default=DEFAULT_TRANSLATOR, metavar="NAME|HUB_ID|DIR",
                        help=f"translation model: a preset ({', '.join(names('translator'))}), "
                             f"a hub id or a local directory (default: {DEFAULT_TRANSLATOR})")
    parser.add_argument("--summarizer", default=DEFAULT_SUMMARIZER, metavar="NAME|HUB_ID|DIR",
                        help=f"summary model: a preset ({', '.join(names('summarizer'))}), a hub "
                             f"id or a local directory (default: {DEFAULT_SUMMARIZER})")
    parser.add_argument("--beams", type=int, default=None,
                        help="beam size for translation (default: the model's own, usually 4)")
    parser.add_argument("--device", default="auto",
                        help="auto (CUDA when available, else CPU), cpu or cuda")
    parser.add_argument("--backend", choices=["auto", "torch", "ct2"], default="auto",
                        help="inference backend: ct2 (CTranslate2, int8 on CPU / float16 on "
                             "CUDA, converted once on first use), torch, or auto (ct2 when "
                             "installed; default)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="khulasa",
        description="Arabic news in; a faithful English translation, sentence by sentence, and "
                    "a short English summary out.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    tr = sub.add_parser("translate", help="translate (and summarise) one Arabic document")
    tr.add_argument("file", nargs="?", default="-", metavar="FILE|-",
                    help="UTF-8 text file, or - for standard input (default)")
    _model_options(tr)
    tr.add_argument("--json", action="store_true", help="print the Document as JSON")
    tr.add_argument("--no-summary", action="store_true", help="translate only")
    tr.add_argument("--sentences", type=int, default=None,
                    help="summary length in sentences (extractive default 3)")
    tr.set_defaults(run=cmd_translate)

    se = sub.add_parser("serve", help="run the web page (and its API) on this machine")
    se.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                    "127.0.0.1; use 0.0.0.0 to serve your network)")
    se.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    _model_options(se)
    se.add_argument("--max-chars", type=int, default=20_000,
                    help="longest input accepted, in characters (default: 20000)")
    se.add_argument("--concurrency", type=int, default=1,
                    help="jobs run at once on the loaded models (default: 1)")
    se.add_argument("--queue-size", type=int, default=16,
                    help="jobs that may wait; beyond it clients are told the server is busy "
                         "(default: 16)")
    se_mem = se.add_mutually_exclusive_group()
    se_mem.add_argument("--memory", type=Path, default=None, metavar="PATH",
                        help="sentence memory file (default: $KHULASA_HOME/memory.sqlite)")
    se_mem.add_argument("--no-memory", action="store_true",
                        help="translate every sentence anew")
    se.add_argument("--char-limit", type=int, default=20_000,
                    help="REST: most characters in one request's q (default: 20000)")
    se.add_argument("--batch-limit", type=int, default=32,
                    help="REST: most texts in one q array (default: 32)")
    se.add_argument("--req-limit", type=int, default=0,
                    help="REST: requests per minute per client address; 0 = no limit "
                         "(default: 0)")
    se.add_argument("--alternatives-limit", type=int, default=5,
                    help="REST: most alternatives one request may ask for (default: 5)")
    se.add_argument("--api-keys", type=Path, default=None, metavar="FILE",
                    help="REST: file of API keys, one per line; when given, a key is required")
    se.set_defaults(run=cmd_serve)

    ba = sub.add_parser("batch", help="translate many documents into one JSONL file, "
                                      "resumable")
    ba.add_argument("inputs", nargs="+", metavar="INPUT",
                    help=".txt files (id = path), directories (recursive *.txt), .jsonl or .csv "
                         "(id and text fields), or - for JSONL on stdin")
    ba.add_argument("-o", "--output", required=True, type=Path,
                    help="JSONL output; a rerun skips the ids already in it")
    _model_options(ba)
    ba.add_argument("--summary", action=argparse.BooleanOptionalAction, default=True,
                    help="summarise each document (default: --summary)")
    ba.add_argument("--text-field", default="text", help="JSONL/CSV text field (default: text)")
    ba.add_argument("--id-field", default="id", help="JSONL/CSV id field (default: id)")
    mem = ba.add_mutually_exclusive_group()
    mem.add_argument("--memory", type=Path, default=None, metavar="PATH",
                     help="sentence memory file (default: $KHULASA_HOME/memory.sqlite)")
    mem.add_argument("--no-memory", action="store_true", help="translate every sentence anew")
    ba.add_argument("--max-chars", type=int, default=200_000,
                    help="longer documents become error records (default: 200000)")
    ba.add_argument("--batch-docs", type=int, default=16, metavar="N",
                    help="documents whose sentences share model batches (default: 16)")
    ba.add_argument("--quiet", action="store_true", help="no progress bar")
    ba.set_defaults(run=cmd_batch)

    be = sub.add_parser("bench", add_help=False,
                        help="time the translation paths on full-size replicas "
                             "(khulasa bench --help)")
    be.set_defaults(run=None)  # main() hands its arguments to eval.bench
    ev = sub.add_parser("eval", add_help=False,
                        help="translation and summary quality, evaluation sets "
                             "(khulasa eval --help)")
    ev.set_defaults(run=None)  # main() hands its arguments to eval.cli

    mo = sub.add_parser("models", help="list or fetch models")
    mo_sub = mo.add_subparsers(dest="models_command", metavar="ACTION")
    mo_sub.required = True
    ls = mo_sub.add_parser("list", help="presets, hub ids, size, licence, present locally?")
    ls.set_defaults(run=cmd_models_list)
    fe = mo_sub.add_parser("fetch", help="download models into the Hugging Face cache "
                                         "(needs network)")
    fe.add_argument("models", nargs="+", metavar="NAME|HUB_ID")
    fe.set_defaults(run=cmd_models_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # the measuring commands own their options (eval/)
        from eval.bench import main as bench_main

        return bench_main(argv[1:])
    if argv[:1] == ["eval"]:
        from eval.cli import main as eval_main

        return eval_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KhulasaError as exc:
        print(f"khulasa: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("khulasa: interrupted", file=sys.stderr)
        return 130


def read_text(path: str) -> str:
    """The document at `path` ('-' for stdin) as text; InputError naming the fix otherwise."""
    if path == "-":
        data = sys.stdin.buffer.read()
        where = "standard input"
    else:
        file = Path(path)
        if not file.is_file():
            raise InputError(f"No such file: {path}. Fix: check the path, or pass - to read "
                             f"standard input.", "file_not_found")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InputError(f"Cannot read {path}: {exc.strerror}.", "unreadable") from exc
        where = path
    return decode_utf8(data, where)


def cmd_translate(args: argparse.Namespace) -> int:
    from models.api import load_pipeline
    from models.pipeline import segment

    text = read_text(args.file)
    segment(text)  # bad input fails before any model loads
    summarizer = "none" if args.no_summary else args.summarizer
    pipeline = load_pipeline(args.translator, summarizer, args.beams, args.device,
                             backend=args.backend)
    doc = pipeline.process(text, summary=not args.no_summary, summary_sentences=args.sentences)
    if args.json:
        print(doc.to_json())
        return 0
    print(doc.translation)
    if doc.summary:
        print("\nSummary:")
        for s in doc.summary:
            refs = ", ".join(str(i) for i in s.sources) or "no supporting sentence"
            print(f"- {s.text}  [sources: {refs}]")
    for warning in doc.meta.get("warnings", []):
        print(f"khulasa: warning: {warning.replace('_', ' ')}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a server
    from models.memory import default_memory_path
    from serve.rest import RestOptions
    from serve.web import Models, ServeOptions, build_app, launch

    logging.basicConfig(level=logging.INFO, format="khulasa: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("max_chars", "concurrency", "queue_size"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1.", "bad_option")
    options = ServeOptions(translator=args.translator, summarizer=args.summarizer,
                           beams=args.beams, device=args.device, backend=args.backend,
                           max_chars=args.max_chars,
                           concurrency=args.concurrency, queue_size=args.queue_size,
                           memory=None if args.no_memory else
                           (args.memory or default_memory_path()))
    keys = None
    if args.api_keys is not None:
        text = read_text(str(args.api_keys))
        keys = frozenset(k.strip() for k in text.splitlines() if k.strip())
        if not keys:
            raise InputError(f"{args.api_keys} holds no API key (one per line).", "bad_option")
    rest = RestOptions(char_limit=args.char_limit, batch_limit=args.batch_limit,
                       req_limit=args.req_limit, alternatives_limit=args.alternatives_limit,
                       api_keys=keys)
    print(f"khulasa: loading {args.translator} and {args.summarizer} ...", file=sys.stderr)
    models = Models(options)  # fails here, with the fix, when weights are missing
    launch(build_app(options, models), options, args.host, args.port, models, rest)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from models.memory import default_memory_path
    from serve.batch import BatchOptions, UsageError, run_batch

    memory = None if args.no_memory else (args.memory or default_memory_path())
    options = BatchOptions(inputs=args.inputs, output=args.output, translator=args.translator,
                           summarizer=args.summarizer, summary=args.summary, beams=args.beams,
                           device=args.device, backend=args.backend,
                           text_field=args.text_field,
                           id_field=args.id_field, memory=memory, quiet=args.quiet,
                           max_chars=args.max_chars, docs_per_step=max(1, args.batch_docs))
    try:
        stats = run_batch(options)
    except UsageError as exc:
        print(f"khulasa batch: error: {exc}", file=sys.stderr)
        return 2
    print(stats.line(), file=sys.stderr)
    return 1 if stats.failed else 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from models.errors import ModelNotFound
    from models.loading import hf_cache_dir, locate, resolve

    rows = [("preset", "kind", "hub id", "params", "download", "licence", "local", "note")]
    for p in PRESETS.values():
        if p.hub_id is None:
            local = "built in"
        else:
            try:
                locate(resolve(p.name, p.kind))
                local = "yes"
            except ModelNotFound:
                local = "no"
        rows.append((p.name, p.kind, p.hub_id or "-", p.params, p.download, p.licence, local,
                     p.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    print(f"\nCache: {hf_cache_dir()}  (set HF_HOME to move it). Any hub id or local "
          f"directory also works in place of a preset.")
    return 0


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from models.loading import FETCH_IGNORE, hf_cache_dir, resolve

    refs = []
    for spec in args.models:
        kind = PRESETS[spec].kind if spec in PRESETS else "translator"
        ref = resolve(spec, kind)
        if ref.hub_id is None:
            print(f"khulasa: {spec} needs no download", file=sys.stderr)
            continue
        refs.append(ref)
    from huggingface_hub import snapshot_download

    for ref in refs:
        print(f"Fetching {ref.name} ({ref.hub_id}) into {hf_cache_dir()} ...", file=sys.stderr)
        try:
            path = snapshot_download(ref.hub_id, cache_dir=hf_cache_dir(),
                                     ignore_patterns=FETCH_IGNORE)
        except Exception as exc:  # network errors come in many types; name the fix
            raise KhulasaError(
                f"Could not download {ref.hub_id}: {type(exc).__name__}: {exc}. Fix: check the "
                f"network (and HF_ENDPOINT / proxy settings), then run the same command again; "
                f"or copy a saved model directory here and pass its path.") from exc
        print(f"{ref.name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
