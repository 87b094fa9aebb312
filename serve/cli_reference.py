"""The CLI reference of the documentation (docs/reference/cli.md), generated from the parsers
themselves so that it cannot drift from them: `python -m khulasa.serve.cli_reference` prints
it, `--write` writes it, and a test fails when the file is stale."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .cli import build_parser, commands

TARGET = Path("docs") / "reference" / "cli.md"
WIDTH = "100"  # help is wrapped at this width, whatever the terminal


def reference() -> str:
    os.environ["COLUMNS"] = WIDTH
    lines = [
        "# CLI reference",
        "",
        "Every command's `--help`, generated from the parsers (`python -m "
        "khulasa.serve.cli_reference --write`); a test fails when this page is stale.",
        "",
    ]
    parser = build_parser()
    for path, command in [("", parser), *commands(parser)]:
        name = f"khulasa {path}".strip()
        lines += [f"## `{name}`", "", "```text", command.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    text = reference()
    if "--write" in (sys.argv[1:] if argv is None else argv):
        TARGET.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
