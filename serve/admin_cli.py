"""The operator's commands: `khulasa models list|fetch` (the presets, what is on this machine,
downloads that also prepare the ct2 copy) and `khulasa corrections list|undo` (readers'
corrections kept by `serve --suggestions`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..models.errors import InputError, KhulasaError, OptionError
from ..models.options import check_positive, refuse_near_miss
from ..models.presets import PRESETS


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
            refuse_near_miss(spec, list(PRESETS))
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
            "with --translator DIR or --summarizer DIR. To try khulasa without network or "
            "weights: khulasa serve --replicas (tiny models with random weights: every door "
            "works, the English is random words)."
        )
    return 0


def register_memory(sub) -> None:
    me = sub.add_parser(
        "memory", help="the sentence memory in translators' format: export or import TMX"
    )
    me.add_argument(
        "--memory", type=Path, default=None, metavar="PATH",
        help="the sentence memory (default: the one batch and digest use, "
        "$KHULASA_HOME/memory.sqlite)",
    )  # fmt: skip
    me_sub = me.add_subparsers(dest="memory_command", metavar="ACTION")
    me_sub.required = True
    ex = me_sub.add_parser("export", help="every sentence with its English, as TMX 1.4")
    ex.add_argument("--tmx", type=Path, required=True, metavar="FILE", help="the TMX file to write")
    ex.set_defaults(run=cmd_memory_export)
    im = me_sub.add_parser(
        "import", help="a desk's TMX (Trados, memoQ, OmegaT): used for exact matches from then on"
    )
    im.add_argument("file", type=Path, metavar="FILE.tmx", help="the TMX file to read")
    im.set_defaults(run=cmd_memory_import)


def _memory_at(path: Path | None, must_exist: bool):
    from ..models.env import default_memory_path
    from ..models.memory import SentenceMemory

    path = path or default_memory_path()
    if must_exist and not path.is_file():
        raise OptionError(f"--memory {path}: no such file. Fix: give the memory to export.")
    return SentenceMemory(path), path


def cmd_memory_export(args: argparse.Namespace) -> int:
    from ..models.tmx import export_tmx

    memory, path = _memory_at(args.memory, must_exist=True)
    count = export_tmx(memory, args.tmx)
    print(f"khulasa: {count} sentences from {path} written to {args.tmx} (TMX 1.4, ar to en)")
    return 0


def cmd_memory_import(args: argparse.Namespace) -> int:
    from ..models.tmx import import_tmx

    memory, path = _memory_at(args.memory, must_exist=False)
    count = import_tmx(memory, args.file)
    print(f"khulasa: {count} sentences from {args.file} kept in {path} as the desk's memory; "
          "an exact match is used from now on, marked as from the desk's memory")  # fmt: skip
    return 0
