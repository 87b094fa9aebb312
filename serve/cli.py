"""`khulasa`: one entry point composed of its commands. Each module registers its own
(`register(subparsers)`): translate, serve and models here, batch in batch/cli.py, digest in
digest_cli.py; other packages add theirs through the `khulasa.commands` entry points (bench and
eval come from khulasa.eval that way, so this package never imports the measuring one).
Heavy imports (torch, transformers, gradio) happen inside the command that needs them, so
`khulasa --help` stays instant."""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import fields
from importlib.metadata import entry_points
from pathlib import Path

from ..models.env import version
from ..models.errors import InputError, KhulasaError, OptionError
from ..models.options import ModelOptions, add_arguments, check_positive
from ..models.presets import PRESETS
from ..models.reading.article import Article, read_article
from ..models.reading.extract import kinds_in_words
from ..models.reading.fetch import is_link
from ..models.text import check_arabic, decode_utf8
from . import digest_cli
from .batch import cli as batch_cli
from .batch.inputs import add_reading_arguments, reading_from_args
from .service import ServeOptions, check_port_free

COMMANDS = "khulasa.commands"  # the entry-point group of commands other packages add


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="khulasa",
        description="Arabic news in; a faithful English translation, sentence by sentence, and "
        "a short English summary out.",
    )
    parser.add_argument("--version", action="version", version=f"khulasa {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in (
        register_translate,
        register_serve,
        batch_cli.register,
        digest_cli.register,
        register_corrections,
        register_models,
        *(command.load() for command in sorted(entry_points(group=COMMANDS), key=str)),
    ):
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.run(args)
    except OptionError as exc:
        print(f"khulasa {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KhulasaError as exc:
        print(f"khulasa {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("khulasa: interrupted", file=sys.stderr)
        return 130


def read_document(path: str, budget=None, policy=None) -> Article:
    """The article at `path` ('-' for stdin: UTF-8 text), a link or a file (read_article: .txt
    in any usual encoding, .html, .docx or .pdf, told apart by their bytes, under `budget`).
    InputError naming the fix otherwise."""
    if path == "-":
        if sys.stdin.isatty():
            print(
                "khulasa: reading the article from standard input; end it with Ctrl-D "
                "(or pass a file: khulasa translate FILE)",
                file=sys.stderr,
            )
        return Article(decode_utf8(sys.stdin.buffer.read(), "standard input"))
    if not is_link(path) and Path(path).is_dir():
        raise OptionError(
            f"{path} is a directory: translate takes one file. For a folder of "
            f"articles: khulasa batch {path} -o results.jsonl"
        )
    if not is_link(path) and not Path(path).exists():
        raise InputError(
            f"No such file: {path}. Fix: check the path, or pass - to read standard input.",
            "file_not_found",
        )
    return read_article(path if is_link(path) else Path(path), budget=budget, policy=policy)


def register_translate(sub) -> None:
    tr = sub.add_parser("translate", help="translate (and summarise) one Arabic document")
    tr.add_argument(
        "file",
        nargs="*",
        default=["-"],
        metavar="FILE|URL|-",
        help=f"the article: {kinds_in_words(described=True)}; a link (http or https; public "
        "addresses only); or - for UTF-8 text on standard input (default). One article: "
        "for many, khulasa batch",
    )
    tr.add_argument(
        "--force",
        action="store_true",
        help="translate text that is not Arabic anyway (it is refused by default: the models "
        "translate Arabic, and give nonsense for anything else)",
    )
    add_arguments(tr)
    add_reading_arguments(tr, private_urls=True)
    tr.add_argument("--json", action="store_true", help="print the Document as JSON")
    tr.add_argument("--no-summary", action="store_true", help="translate only")
    tr.add_argument(
        "--sentences",
        type=int,
        default=None,
        metavar="N",
        help="summary length in sentences, at least 1 (extractive default 3)",
    )
    tr.set_defaults(run=cmd_translate)


def cmd_translate(args: argparse.Namespace) -> int:
    from ..models.factory import build_pipeline
    from ..models.pipeline import segment

    options = ModelOptions.from_args(args)
    sentences = check_positive("--sentences", args.sentences)
    if len(args.file) > 1:
        files = " ".join(args.file)
        raise OptionError(
            f"translate takes one article, not {len(args.file)}. For several: khulasa batch "
            f"{files} -o results.jsonl"
        )
    article = read_document(args.file[0], *reading_from_args(args))
    text, about = article.text, article.source
    segment(text)  # bad input fails before any model loads (a missing one too: located first)
    if not args.force:
        check_arabic(text, "Fix: give an Arabic article, or pass --force to translate it anyway.")
    pipeline = build_pipeline(options, summary=not args.no_summary)
    doc = pipeline.process(text, summary=not args.no_summary, summary_sentences=sentences)
    if about:
        doc.meta["source"] = about
    for warning in pipeline.warnings:
        print(f"khulasa: warning: {warning}", file=sys.stderr)
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


# `khulasa serve`'s numbers: (option's field in ServeOptions, metavar, help). Each default is
# ServeOptions' own, read here, never written again.
SERVE_NUMBERS = [
    ("max_chars", "N", "longest page input, in characters"),
    ("concurrency", "N", "model jobs at once, page and REST together"),
    ("queue_size", "N", "model jobs that may wait, page and REST together; beyond it clients "
     "are told the server is busy"),
    ("char_limit", "N", "REST: most characters in one request's q"),
    ("batch_limit", "N", "REST: most texts in one q array"),
    ("req_limit", "N", "requests per minute per client address, every door; 0 = no limit"),
    ("alternatives_limit", "N", "REST: most alternatives one request may ask for"),
    ("keep_downloads", "SECONDS", "how long page downloads are kept on disk at most"),
    ("digest_docs", "N", "coverage digest (page and REST): most documents in one digest"),
    ("digest_chars", "N", "coverage digest: most characters of all its documents"),
]  # fmt: skip


def register_serve(sub) -> None:
    defaults = {f.name: f.default for f in fields(ServeOptions)}
    se = sub.add_parser("serve", help="run the web page (and its REST API) on this machine")
    se.add_argument(
        "--host",
        default=defaults["host"],
        help=f"address to listen on (default: {defaults['host']}; use 0.0.0.0 to serve your "
        "network)",
    )
    se.add_argument(
        "--port", type=int, default=defaults["port"], help=f"port (default: {defaults['port']})"
    )
    add_arguments(se, memory="off")
    for name, metavar, text in SERVE_NUMBERS:
        se.add_argument(
            "--" + name.replace("_", "-"),
            type=int,
            default=defaults[name],
            metavar=metavar,
            help=f"{text} (default: {defaults[name]})",
        )
    se.add_argument(
        "--api-keys",
        type=Path,
        default=None,
        metavar="FILE",
        help="file of API keys, one per line; when given, every door needs one "
        "(REST: api_key; the page asks for it once)",
    )
    se.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="a reverse proxy (address or network) whose X-Forwarded-For names the "
        "client; repeatable (default: trust none)",
    )
    se.add_argument(
        "--allow-urls",
        action="store_true",
        help="let visitors give a link for the server to fetch (public http/https addresses "
        "only, every redirect checked; default: off)",
    )
    se.add_argument(
        "--suggestions",
        nargs="?",
        const="keyed",
        choices=["keyed", "open"],
        default=None,
        help="let readers correct a sentence's English (POST /suggest and the page); kept "
        "in the sentence memory, so it needs --memory, and --api-keys unless 'open' (anyone "
        "may); each correction is recorded and can be undone: khulasa corrections "
        "(default: off)",
    )
    add_reading_arguments(se, private_urls=False)
    se.set_defaults(run=cmd_serve)


def read_keys(path: Path) -> frozenset[str]:
    if path.is_dir() or not path.exists():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise OptionError(f"--api-keys {path} {what}. Fix: give a file with one API key per line.")
    try:
        text = decode_utf8(path.read_bytes(), str(path))
    except OSError as exc:
        raise OptionError(f"Cannot read --api-keys {path}: {exc.strerror}.") from exc
    keys = frozenset(k.strip() for k in text.splitlines() if k.strip())
    if not keys:
        raise OptionError(f"--api-keys {path} holds no API key (one per line).")
    return keys


def cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a server
    from ..models.factory import locate

    options = ServeOptions(
        models=ModelOptions.from_args(args),
        host=args.host,
        port=args.port,
        max_chars=args.max_chars,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        char_limit=args.char_limit,
        batch_limit=args.batch_limit,
        req_limit=args.req_limit,
        alternatives_limit=args.alternatives_limit,
        api_keys=read_keys(args.api_keys) if args.api_keys is not None else None,
        trusted_proxies=tuple(args.trusted_proxy),
        keep_downloads=args.keep_downloads,
        digest_docs=args.digest_docs,
        digest_chars=args.digest_chars,
        allow_urls=args.allow_urls,
        suggestions=args.suggestions is not None,
        suggestions_open=args.suggestions == "open",
        read=reading_from_args(args)[0],
    )
    check_port_free(options.host, options.port)
    locate(options.models)  # a missing model fails here, before gradio's seconds of imports
    from .launch import launch

    logging.basicConfig(level=logging.INFO, format="khulasa: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    models = options.models
    print(f"khulasa: loading {models.translator} and {models.summarizer} ...", file=sys.stderr)
    if models.memory:
        print(
            f"khulasa: the sentence memory {models.memory} keeps visitors' sentences on disk",
            file=sys.stderr,
        )
    launch(options)  # fails before serving, with the fix, when weights are missing
    return 0


def register_corrections(sub) -> None:
    co = sub.add_parser(
        "corrections", help="list or undo readers' corrections (serve --suggestions)"
    )
    co.add_argument(
        "--memory", type=Path, required=True, metavar="PATH",
        help="the sentence memory the server was given (serve --memory)",
    )  # fmt: skip
    co_sub = co.add_subparsers(dest="corrections_command", metavar="ACTION")
    co_sub.required = True
    ls = co_sub.add_parser("list", help="the latest corrections: when, who, before and after")
    ls.add_argument("--last", type=int, default=50, metavar="N", help="how many (default: 50)")
    ls.set_defaults(run=cmd_corrections_list)
    un = co_sub.add_parser("undo", help="put back the English a correction replaced")
    un.add_argument("id", type=int, help="the correction's number (from list)")
    un.set_defaults(run=cmd_corrections_undo)


def _corrections_memory(path: Path):
    from ..models.memory import SentenceMemory

    if not path.is_file():
        raise OptionError(f"--memory {path}: no such file. Fix: give the server's --memory.")
    return SentenceMemory(path)


def _english(value: str | None) -> str:
    import json

    return json.loads(value)["h"][0] if value else "(none: the model's own)"


def cmd_corrections_list(args: argparse.Namespace) -> int:
    import time

    rows = _corrections_memory(args.memory).corrections(check_positive("--last", args.last))
    if not rows:
        print("No corrections.")
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created"]))
        state = " (undone)" if r["undone"] else ""
        print(f"#{r['id']} {when} from {r['client']} key {r['key_id'] or '-'}{state}")
        print(f"  Arabic:  {r['source']}")
        print(f"  English: {_english(r['english'])}")
        print(f"  before:  {_english(r['previous'])}")
    return 0


def cmd_corrections_undo(args: argparse.Namespace) -> int:
    memory = _corrections_memory(args.memory)
    try:
        undone = memory.undo(args.id)
    except KeyError:
        raise OptionError(
            f"There is no correction #{args.id}. Fix: see khulasa corrections list."
        ) from None
    except ValueError as exc:
        raise InputError(f"Correction #{args.id} cannot be undone: {exc}.", "not_undone") from None
    print(f"Undone #{args.id}: the English is again {_english(undone['previous'])}")
    return 0


def register_models(sub) -> None:
    mo = sub.add_parser("models", help="list or fetch models")
    mo_sub = mo.add_subparsers(dest="models_command", metavar="ACTION")
    mo_sub.required = True
    ls = mo_sub.add_parser("list", help="presets, hub ids, size, licence, present locally?")
    ls.set_defaults(run=cmd_models_list)
    fe = mo_sub.add_parser(
        "fetch", help="download models into the Hugging Face cache (needs network)"
    )
    fe.add_argument("models", nargs="+", metavar="NAME|HUB_ID")
    fe.set_defaults(run=cmd_models_fetch)


def cmd_models_list(args: argparse.Namespace) -> int:
    from ..models.env import hf_cache_dir
    from ..models.errors import ModelNotFound
    from ..models.loading import find

    rows = [("preset", "kind", "hub id", "params", "download", "licence", "local", "note")]
    for p in PRESETS.values():
        if p.hub_id is None:
            local = "built in"
        else:
            try:
                find(p.name, p.kind)
                local = "yes"
            except ModelNotFound:
                local = "no"
        rows.append(
            (p.name, p.kind, p.hub_id or "-", p.params, p.download, p.licence, local, p.note)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    print(
        f"\nCache: {hf_cache_dir()}  (set HF_HOME to move it). Any hub id or local "
        f"directory also works in place of a preset."
    )
    return 0


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from ..models.ct2 import prepare_ct2
    from ..models.env import hf_cache_dir
    from ..models.loading import FETCH_IGNORE, resolve

    refs = []
    for spec in args.models:
        if spec not in PRESETS and "/" not in spec:
            close = difflib.get_close_matches(spec, list(PRESETS), n=3, cutoff=0.6)
            if close:
                raise OptionError(
                    f"Unknown model {spec!r}. Did you mean {' or '.join(close)}? "
                    f"Presets: {', '.join(PRESETS)}; or give a hub id "
                    f"(org/name).",
                    "unknown_model",
                )
        ref = resolve(spec, PRESETS[spec].kind if spec in PRESETS else "translator")
        if ref.hub_id is None:
            print(f"khulasa: {spec} needs no download", file=sys.stderr)
            continue
        refs.append(ref)
    from huggingface_hub import snapshot_download

    failed = []
    for ref in refs:
        print(f"Fetching {ref.name} ({ref.hub_id}) into {hf_cache_dir()} ...", file=sys.stderr)
        try:
            path = snapshot_download(
                ref.hub_id, cache_dir=hf_cache_dir(), ignore_patterns=FETCH_IGNORE
            )
        except Exception as exc:  # network errors come in many types; name them all
            reason = str(exc).strip().rstrip(".") or type(exc).__name__
            failed.append(f"{ref.hub_id}: {type(exc).__name__}: {reason}")
            print(f"khulasa: could not download {ref.hub_id}", file=sys.stderr)
            continue
        print(f"{ref.name}: {path}")
        try:  # the ct2 backend's copy, made now rather than at the model's first use
            prepare_ct2(ref, Path(path))
        except KhulasaError as exc:
            print(f"khulasa: warning: {exc}", file=sys.stderr)
    if failed:
        raise KhulasaError(
            f"Could not download {len(failed)} of {len(refs)} models:\n  "
            + "\n  ".join(failed)
            + "\nFix: check the network (and HF_ENDPOINT / proxy settings), then run the same "
            "command again; or copy a saved model directory onto this machine and pass it "
            "with --translator DIR or --summarizer DIR. Without weights, the tests and khulasa "
            "bench run on replica models (README: Without network or weights)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
