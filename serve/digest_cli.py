"""`khulasa digest`: many articles on one event in, one English digest out (JSON or Markdown).

Inputs are read as `khulasa batch` reads them (.txt files, directories, .jsonl, .csv, -);
JSONL/CSV records may also say `title`, `outlet` and `date`. A document that cannot be read or
used is listed in the digest with its error; the rest goes on. The output file is written
whole or not at all (a temporary file renamed over it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..models.digest.build import DIGEST_POINTS
from ..models.env import default_memory_path
from ..models.errors import KhulasaError
from ..models.options import ModelOptions, add_arguments, check_positive
from .batch.inputs import (
    UsageError,
    add_input_arguments,
    fetch_links,
    read_inputs,
    reading_from_args,
)
from .batch.local import check_output_path


def register(sub) -> None:
    di = sub.add_parser(
        "digest", help="one English digest of many articles on one event (who reports what)"
    )
    di.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="write the digest here: Markdown for .md, else JSON (default: standard output)",
    )
    di.add_argument(
        "--markdown", action="store_true", help="Markdown instead of JSON (implied by -o *.md)"
    )
    di.add_argument(
        "--points",
        type=int,
        default=DIGEST_POINTS,
        metavar="N",
        help=f"key points, at least 1 (default: {DIGEST_POINTS})",
    )
    add_arguments(di, memory="on", glossary=True)
    add_input_arguments(di, "a longer document is left out with an error")
    di.add_argument("--quiet", action="store_true", help="no progress")
    di.set_defaults(run=cmd_digest)


def cmd_digest(args: argparse.Namespace) -> int:
    from ..models.digest.build import DigestInput, DigestLimits, make_digest
    from ..models.factory import build_pipeline

    points = check_positive("--points", args.points, False)
    max_chars = check_positive("--max-chars", args.max_chars, False)
    markdown = args.markdown or (args.output is not None and args.output.suffix == ".md")
    if args.output is not None:
        check_output_path(args.output)
    budget, policy = reading_from_args(args)
    records = list(read_inputs(args.inputs, args.text_field, args.id_field, budget=budget))
    fetch_links(records, policy, budget)  # records that give a url instead of text
    if not records:
        raise UsageError(
            "The inputs hold no documents. Fix: give .txt files, a directory of them, or "
            ".jsonl/.csv records."
        )
    inputs = [
        DigestInput(
            r.id,
            r.text,
            title=r.about.get("title"),
            outlet=r.about.get("outlet"),
            date=r.about.get("date"),
            error=r.error,
        )
        for r in records
    ]
    memory = None if args.no_memory else (args.memory or default_memory_path())
    options = ModelOptions.from_args(args, memory=memory)
    pipeline = build_pipeline(options, summary=True)
    for warning in pipeline.warnings:
        print(f"khulasa digest: warning: {warning}", file=sys.stderr)
    with Progress(args.quiet) as progress:
        digest = make_digest(pipeline, inputs, points, DigestLimits(max_chars=max_chars), progress)
    text = digest.to_markdown() if markdown else digest.to_json()
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_whole(args.output, text)
    counts = digest.meta["counts"]
    ms = digest.meta["timings_ms"]
    print(
        f"khulasa digest: {counts['read']} of {counts['documents']} documents in "
        f"{counts['stories']} stories, {len(digest.key_points)} key points, "
        f"{counts['failed']} left out; {ms['total'] / 1000:.1f} s (models "
        f"{(ms['translate'] + ms['summarize']) / 1000:.1f} s)"
        + (f"; written to {args.output}" if args.output else ""),
        file=sys.stderr,
    )
    for d in digest.documents:
        if d.input.error is not None:
            print(f"khulasa digest: left out {d.input.id}: {d.input.error}", file=sys.stderr)
    return 1 if counts["failed"] else 0


def write_whole(path: Path, text: str) -> None:
    """`text` into `path`, whole or not at all (a temporary file renamed over it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KhulasaError(
            f"Could not write the digest to {path}: {exc.strerror or exc}. Fix: free some "
            "space or choose another -o, then run the same command again (with the sentence "
            "memory on, sentences already translated are not translated again)."
        ) from None


class Progress:
    """The digest's stages on standard error: a bar over the sentences being translated,
    then a line for linking and one for the key points."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.stage = None

    def __enter__(self):
        return self

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if stage == "translate":
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="sentence", desc="Translating", file=sys.stderr)
            self.bar.update(done - self.bar.n)
            return
        if stage != self.stage:
            self._close_bar()
            self.stage = stage
            print(f"khulasa digest: {stage}…", file=sys.stderr)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __exit__(self, *exc) -> None:
        self._close_bar()
