"""`khulasa`: one entry point composed of its commands. Each module registers its own
(`register(subparsers)`): translate, serve and models here, batch in batch/cli.py, digest in
digest_cli.py; other packages add theirs through the `khulasa.commands` entry points (bench and
eval come from khulasa.eval that way, so this package never imports the measuring one).
Heavy imports (torch, transformers, gradio) happen inside the command that needs them, so
`khulasa --help` stays instant."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from dataclasses import fields
from importlib.metadata import entry_points
from pathlib import Path

from ..models.env import version
from ..models.errors import KhulasaError, OptionError
from ..models.options import ModelOptions, add_arguments, check_positive
from ..models.reading.article import Article, read_article
from ..models.reading.extract import kinds_in_words
from ..models.text import decode_utf8, is_link
from . import admin_cli, check_cli, digest_cli
from .admission import check_text
from .batch import cli as batch_cli
from .batch.inputs import add_reading_arguments, reading_from_args
from .service import ENGINES, ServeOptions, check_port_free, public_name

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
        check_cli.register,
        batch_cli.register,
        digest_cli.register,
        admin_cli.register_corrections,
        admin_cli.register_models,
        admin_cli.register_memory,
        *(command.load() for command in sorted(entry_points(group=COMMANDS), key=str)),
    ):
        register(sub)
    for path, command in commands(parser):
        if path in EXAMPLES and not command.epilog:
            command.epilog = f"Example: {EXAMPLES[path]}"
    return parser


def commands(parser: argparse.ArgumentParser, path: str = ""):
    """("models fetch", its parser) for every command below `parser`, nested ones too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{path} {name}".strip(), sub
                yield from commands(sub, f"{path} {name}")


# One example in each command's --help (its last lines), on the project's own data.
EXAMPLES = {
    "translate": "khulasa translate eval/data/brussels_ar.txt --summarizer extractive",
    "serve": "khulasa serve --replicas   (no network, no weights: random-word models)",
    "batch": "khulasa batch eval/data/brussels_ar.txt eval/data/coverage/report_en.txt --force "
    "-o results.jsonl",
    "digest": "khulasa digest eval/data/brussels_ar.txt eval/data/coverage/report_en.txt "
    "-o digest.md",
    "check": "khulasa check eval/data/brussels.sent.ar eval/data/brussels.sent.en",
    "corrections": "khulasa corrections --memory memory.sqlite list",
    "corrections list": "khulasa corrections --memory memory.sqlite list",
    "corrections undo": "khulasa corrections --memory memory.sqlite undo 3",
    "memory": "khulasa memory export --tmx desk.tmx",
    "memory export": "khulasa memory --memory memory.sqlite export --tmx desk.tmx",
    "memory import": "khulasa memory import desk.tmx",
    "models": "khulasa models list",
    "models list": "khulasa models list",
    "models fetch": "khulasa models fetch opus-mt-tc-big distilbart-cnn",
    "bench": "khulasa bench --size tiny --json",
    "eval": "khulasa eval trust",
    "eval translation": "khulasa eval translation --src eval/data/brussels.sent.ar --ref "
    "eval/data/brussels.sent.en --translator opus-mt",
    "eval summary": "khulasa eval summary --src eval/data/brussels_en.txt --ref "
    "eval/data/brussels_summary_en.txt --summarizer extractive",
    "eval trust": "khulasa eval trust --json",
    "eval sets": "khulasa eval sets",
    "eval glossary": "khulasa eval glossary --json",
}
# Flags people reach for that are spelled otherwise here.
FLAG_ALIASES = {"--model": "--translator", "--summary-model": "--summarizer",
                "--output": "-o", "--beam": "--beams", "--lang": "--translator"}  # fmt: skip


def did_you_mean(flag: str, parser: argparse.ArgumentParser) -> str | None:
    """The option of `parser` a mistyped `flag` most likely means ("--model" -> "--translator")."""
    known = [o for a in parser._actions for o in a.option_strings]
    name = flag.split("=", 1)[0]
    if FLAG_ALIASES.get(name) in known:
        return FLAG_ALIASES[name]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """`argv` parsed; an unknown option is refused with the command's own usage and the
    option it most likely means (exit 2)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        sub = dict(commands(parser)).get(getattr(args, "command", None), parser)
        unknown = next((x for x in extra if x.startswith("-")), extra[0])
        hint = did_you_mean(unknown, sub) if unknown.startswith("-") else None
        said = f"unrecognized arguments: {' '.join(extra)}"
        sub.error(f"{said}. Did you mean {hint}?" if hint else said)
    return args


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    args = parse(build_parser(), sys.argv[1:] if argv is None else argv)
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
    except BrokenPipeError:  # the reader stopped reading (`| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


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
    if not is_link(path) and not Path(path).exists():  # a usage mistake: exit 2, as everywhere
        raise OptionError(
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
    add_arguments(tr, memory="off", glossary=True)
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
    from ..models.copies import MARK, marked, parts, reasons, to_check_line
    from ..models.factory import build_pipeline
    from ..models.report import no_summary

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
    # Bad input fails before any model loads (a missing one too: located first).
    check_text(
        text,
        None,
        force=args.force,
        fix_empty="paste or pass some Arabic text.",
        fix_arabic="Fix: give an Arabic article, or pass --force to translate it anyway.",
    )
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
        for point in parts(doc, "points")["points"]:
            cites = ", ".join(map(str, point["cites"]))
            print(f"- {point['text']}  [{f'sentences {cites}' if cites else 'no source sentence'}]")
            for w in point["warned"]:
                print(f"  {MARK} check {w}")
    elif not args.no_summary:
        print(f"khulasa: {no_summary(doc)}", file=sys.stderr)
    for warning in doc.meta.get("warnings", []):
        print(f"khulasa: warning: {warning.replace('_', ' ')}", file=sys.stderr)
    # The warnings on standard error: standard output stays the English (and its summary).
    for seg in marked(doc):
        for reason in reasons(seg, doc.meta.get("names")):
            print(f"khulasa: {MARK} sentence {seg.index + 1}: {reason}", file=sys.stderr)
    print(f"khulasa: {to_check_line(doc)}", file=sys.stderr)
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
    ("keep_results", "SECONDS", "how long a page result keeps its address (a reload or a "
     "colleague with the link shows it again); 0 keeps none"),
    ("digest_docs", "N", "coverage digest (page and REST): most documents in one digest"),
    ("digest_chars", "N", "coverage digest: most characters of all its documents"),
    ("batch_window", "MS", "batching across readers: how long a model round waits for other "
     "jobs' sentences to join its batches; 0 runs each job's batches alone"),
    ("ray_replicas", "N", "--engine ray: replicas of each deployment (the least, with "
     "autoscaling)"),
    ("ray_max_replicas", "N", "--engine ray: autoscale each deployment up to N replicas; 0 "
     "keeps --ray-replicas"),
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
    add_arguments(se, memory="off", glossary=True)
    for name, metavar, text in SERVE_NUMBERS:
        se.add_argument(
            "--" + name.replace("_", "-"),
            type=int,
            default=defaults[name],
            metavar=metavar,
            help=f"{text} (default: {defaults[name]})",
        )
    se.add_argument(
        "--engine",
        choices=ENGINES,
        default=defaults["engine"],
        help="where the models run: local (this process; default) or ray (Ray Serve "
        "deployments Translator and Summarizer; pip install -e '.[serve]')",
    )
    se.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="--engine ray: the Ray cluster to use (e.g. ray://head:10001, or auto); default: "
        "a local Ray instance started for this server",
    )
    se.add_argument(
        "--limits-storage",
        default=defaults["limits_storage"],
        metavar="URL",
        help="where the request rate and wrong-key lockouts are counted: memory:// (this "
        "process; default) or redis://HOST:PORT (shared by every front process)",
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
        "--replicas",
        action="store_true",
        help="serve tiny replica models with random weights, built on the spot the first time "
        "(no network, no weights): every door works, but the English is random words; the "
        "page says so",
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


REPLICAS = "khulasa.replicas"  # the entry point that builds `serve --replicas`' models


def offline_replicas() -> dict[str, str]:
    """The tiny replica models `serve --replicas` serves (built by khulasa.eval through its
    entry point: serve never imports it), and the console's plain word on them."""
    found = [e for e in entry_points(group=REPLICAS) if e.name == "offline"]
    if not found:
        raise OptionError(
            "--replicas needs the measuring package's replica builder, which this install "
            "lacks. Fix: pip install -e . (from the repository) again."
        )
    print("khulasa: building or reusing the tiny replica models (a few seconds the first "
          "time) ...", file=sys.stderr)  # fmt: skip
    translator, summarizer = found[0].load()()
    print(
        "khulasa: serving REPLICAS: tiny models with random weights. Every door works, but "
        "the English is random words, not a translation. For real translations: khulasa "
        "models fetch opus-mt-tc-big distilbart-cnn, then khulasa serve",
        file=sys.stderr,
    )
    return {"translator": str(translator), "summarizer": str(summarizer)}


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a server
    from ..models.factory import locate

    models = ModelOptions.from_args(args)
    if args.replicas:
        models = models.with_(**offline_replicas())
    options = ServeOptions(
        models=models,
        replicas=args.replicas,
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
        keep_results=args.keep_results,
        digest_docs=args.digest_docs,
        digest_chars=args.digest_chars,
        allow_urls=args.allow_urls,
        suggestions=args.suggestions is not None,
        suggestions_open=args.suggestions == "open",
        read=reading_from_args(args)[0],
        batch_window=args.batch_window,
        engine=args.engine,
        ray_address=args.ray_address,
        ray_replicas=args.ray_replicas,
        ray_max_replicas=args.ray_max_replicas,
        limits_storage=args.limits_storage,
    )
    check_port_free(options.host, options.port)
    if options.limits_storage != "memory://":  # an unreachable Redis fails here, with the fix
        from .limits import Limits

        Limits(options.limits_storage)
    locate(options.models)  # a missing model fails here, before gradio's seconds of imports
    from .launch import launch

    logging.basicConfig(level=logging.INFO, format="khulasa: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    models = options.models
    print(f"khulasa: loading {public_name(models.translator)} and "
          f"{public_name(models.summarizer)} ...", file=sys.stderr)  # fmt: skip
    if models.memory:
        print(
            f"khulasa: the sentence memory {models.memory} keeps visitors' sentences on disk",
            file=sys.stderr,
        )
    launch(options)  # fails before serving, with the fix, when weights are missing
    return 0


if __name__ == "__main__":
    sys.exit(main())
