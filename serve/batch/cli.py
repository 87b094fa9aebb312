"""`khulasa batch`'s command line: one command, two engines (local: `batch`, ray:
`ray_engine.py`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...models.env import default_memory_path
from ...models.options import ModelOptions, add_arguments
from .inputs import UsageError, add_input_arguments, is_uri, reading_from_args
from .local import BatchOptions, run_batch
from .ray_engine import add_ray_arguments, ray_options, run_ray


def register(sub) -> None:
    ba = sub.add_parser(
        "batch",
        help="translate many documents into one JSONL file (--engine ray: a directory of "
        "part files), resumable",
    )
    ba.add_argument(
        "-o",
        "--output",
        required=True,
        help="JSONL output file (--engine ray: a directory of part files, or a URI); a rerun "
        "skips the ids already in it",
    )
    add_arguments(ba, memory="on", glossary=True)
    ba.add_argument(
        "--summary",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="summarise each document (default: --summary)",
    )
    add_input_arguments(ba, "longer documents become error records")
    ba.add_argument(
        "--batch-docs",
        type=int,
        default=16,
        metavar="N",
        help="documents whose sentences share model batches (default: 16)",
    )
    ba.add_argument(
        "--dedupe",
        action="store_true",
        help="repair an output that holds an id more than once: keep the first",
    )
    ba.add_argument(
        "--force",
        action="store_true",
        help="translate records that are not Arabic too (by default each is a not_arabic "
        "error record: the models translate Arabic, and give nonsense for anything else)",
    )
    ba.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_arguments(ba)
    ba.set_defaults(run=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    ray = ray_options(args)
    if ray is None and is_uri(args.output):
        raise UsageError(
            f"-o {args.output} is a URI: --engine local writes a file on this machine. "
            f"Fix: add --engine ray (a directory of part files there), or name a local file."
        )
    if ray is None:
        memory = None if args.no_memory else (args.memory or default_memory_path())
    else:  # a path on each node: the default is resolved there
        memory = None
    read, fetch = reading_from_args(args)
    options = BatchOptions(
        inputs=args.inputs,
        output=Path(args.output) if ray is None else args.output,
        models=ModelOptions.from_args(args, memory=memory),
        summary=args.summary,
        text_field=args.text_field,
        id_field=args.id_field,
        quiet=args.quiet,
        max_chars=args.max_chars,
        docs_per_step=args.batch_docs,
        dedupe=args.dedupe,
        force=args.force,
        read=read,
        fetch=fetch,
    )
    if ray is None:
        stats = run_batch(options)
    else:
        node_memory = "off" if args.no_memory else str(args.memory or "default")
        stats = run_ray(options, ray, node_memory)
    print(stats.line(), file=sys.stderr)
    return 1 if stats.failed else 0
