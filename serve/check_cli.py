"""`khulasa check SOURCE ENGLISH [--json]`: every trust check on a translation made elsewhere
(by a person or another system): one Arabic sentence per line of SOURCE, its English on the
same line of ENGLISH. No model is loaded; the flags and their evidence are the ones the
Document JSON and the page use (`negation_mismatch`, `number_mismatch`, ...)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..models.checks import EXPLANATIONS, NAME_MISMATCH, PLAIN, WARNINGS, check_pair, harm
from ..models.errors import OptionError
from ..models.evidence import evidence
from ..models.names import find_names, flagged, name_evidence
from ..models.reading.article import file_bytes
from ..models.text import decode_utf8

EXAMPLE = "khulasa check eval/data/brussels.sent.ar eval/data/brussels.sent.en --json"


def register(sub) -> None:
    ch = sub.add_parser(
        "check",
        help="the trust checks on a translation made elsewhere (one sentence a line)",
        description="Every trust check on a translation made elsewhere: line N of ENGLISH is "
        "the translation of line N of SOURCE. Flagged lines are printed with the reason and "
        f"what it rests on; the count to check goes to standard error. Example: {EXAMPLE}",
    )
    ch.add_argument("source", metavar="SOURCE", help="UTF-8 text: one Arabic sentence a line")
    ch.add_argument("english", metavar="ENGLISH", help="UTF-8 text: its English, line by line")
    ch.add_argument("--json", action="store_true",
                    help='print {"pairs": [{"index", "arabic", "english", "flags", '
                    '"evidence"}], "to_check", "lines"}')  # fmt: skip
    ch.set_defaults(run=cmd_check)


def _lines(path: str) -> list[str]:
    if not Path(path).exists():
        raise OptionError(f"No such file: {path}. Fix: check the path.")
    return decode_utf8(file_bytes(Path(path), path), path).splitlines()


def check_lines(arabic: list[str], english: list[str]) -> list[dict]:
    """Each line pair with its flags (most harmful first) and their evidence; the lines are
    read as one article for the name check (a name written two ways, or left out)."""
    names = find_names(list(zip(arabic, english, strict=True)))
    named = flagged(names)
    out = []
    for k, (ar, en) in enumerate(zip(arabic, english, strict=True)):
        flags = check_pair(ar, en) + ([NAME_MISMATCH] if k in named else []) if ar.strip() else []
        flags = sorted(flags, key=lambda f: harm([f]))
        found = evidence(ar, en, flags)
        if k in named and (said := name_evidence(k, names)):
            found[NAME_MISMATCH] = said
        out.append({"index": k, "arabic": ar, "english": en, "flags": flags, "evidence": found})
    return out


def cmd_check(args: argparse.Namespace) -> int:
    arabic, english = _lines(args.source), _lines(args.english)
    if len(arabic) != len(english):
        raise OptionError(
            f"{args.source} has {len(arabic)} lines and {args.english} {len(english)}: line N "
            "of the English must translate line N of the source. Fix: align them."
        )
    pairs = check_lines(arabic, english)
    marked = [p for p in pairs if any(f in WARNINGS for f in p["flags"])]
    if args.json:
        print(json.dumps({"pairs": pairs, "to_check": len(marked), "lines": len(pairs)},
                         ensure_ascii=False, indent=2))  # fmt: skip
    else:
        for p in sorted(marked, key=lambda p: (harm(p["flags"]), p["index"])):
            reasons = "; ".join(
                f"{PLAIN[f]}: {p['evidence'].get(f) or EXPLANATIONS[f]}"
                for f in p["flags"]
                if f in WARNINGS
            )
            print(f"line {p['index'] + 1}: {reasons}")
    print(f"khulasa check: {len(marked)} of {len(pairs)} lines to check", file=sys.stderr)
    return 0
