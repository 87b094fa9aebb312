"""The one options object for building models, and the one set of command-line arguments
that every command uses for it.

Conventions (the same on every door: CLI, page, page API, REST, batch, bench, eval):
- `beams`: None or 0 = the model's own default (its generation config); else 1..16.
- `device`: auto (CUDA when usable, else CPU), cpu, cuda or cuda:N.
- `backend`: auto (ct2 when CTranslate2 is installed, else torch), torch or ct2.
- `compute_type`: the ct2 backend's precision; None = int8 on CPU, float16 on CUDA.
- `memory`: the sentence memory file, or None for no memory.
"""

from __future__ import annotations

import argparse
import difflib
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import OptionError
from .presets import DEFAULT_SUMMARIZER, DEFAULT_TRANSLATOR, PRESETS, names

BACKENDS = ("auto", "torch", "ct2")
COMPUTE_TYPES = (
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)
MAX_BEAMS = 16
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_beams(beams: int | None) -> int | None:
    """None for the model's default (None or 0), else beams in 1..MAX_BEAMS."""
    if beams is None or beams == 0:
        return None
    if isinstance(beams, bool) or not isinstance(beams, int) or not 1 <= beams <= MAX_BEAMS:
        raise OptionError(
            f"beams must be 0 (the model's default) or 1 to {MAX_BEAMS}, not {beams!r}."
        )
    return beams


def check_positive(name: str, value: int | None, allow_none: bool = True) -> int | None:
    """`value` when it is a whole number of at least 1 (None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise OptionError(f"{name} must be a whole number of at least 1, not {value!r}.")
    return value


def check_model_name(spec: str, kind: str) -> str:
    """`spec` unless it is a near miss of a preset name: a name with no '/' that is neither a
    preset nor a directory, but close to a preset, is almost certainly a typo."""
    spec = spec.strip()
    if not spec:
        raise OptionError(
            f"--{kind} is empty: give a preset ({', '.join(names(kind))}), a hub id or a directory."
        )
    if spec in PRESETS or "/" in spec or Path(spec).expanduser().exists():
        return spec
    refuse_near_miss(spec, names(kind), kind)
    return spec


def refuse_near_miss(spec: str, presets: list[str], kind: str = "model") -> None:
    """OptionError naming the closest presets when `spec` is a near miss of one of them."""
    close = difflib.get_close_matches(spec, presets, n=3, cutoff=0.6)
    if close:
        raise OptionError(
            f"Unknown {kind} {spec!r}. Did you mean {' or '.join(close)}? Presets: "
            f"{', '.join(presets)} (khulasa models list); or give a hub id (org/name) or a "
            "directory.",
            "unknown_model",
        )


@dataclass(frozen=True)
class ModelOptions:
    """What decides which models run and how. Checks itself on creation."""

    translator: str = DEFAULT_TRANSLATOR
    summarizer: str = DEFAULT_SUMMARIZER
    beams: int | None = None
    device: str = "auto"
    backend: str = "auto"
    compute_type: str | None = None
    memory: Path | None = None
    glossary: Path | None = None  # pinned spellings (models/glossary.py): CSV, TSV or TBX

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "translator", check_model_name(self.translator, "translator"))
        set_(self, "summarizer", check_model_name(self.summarizer, "summarizer"))
        set_(self, "beams", check_beams(self.beams))
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise OptionError(f"Unknown device {self.device!r}: use auto, cpu, cuda or cuda:N.")
        if self.backend not in BACKENDS:
            raise OptionError(f"Unknown backend {self.backend!r}: use {', '.join(BACKENDS)}.")
        if self.compute_type is not None and self.compute_type not in COMPUTE_TYPES:
            raise OptionError(
                f"Unknown compute type {self.compute_type!r}: use {', '.join(COMPUTE_TYPES)}."
            )
        if self.memory is not None:
            set_(self, "memory", Path(self.memory).expanduser())
        if self.glossary is not None:
            set_(self, "glossary", Path(self.glossary).expanduser())
            if not self.glossary.is_file():
                raise OptionError(
                    f"--glossary {self.glossary}: no such file. Fix: give a CSV or TSV file "
                    "(the Arabic term, then its English) or a TBX file."
                )

    def with_(self, **changes) -> ModelOptions:
        """A copy with `changes`, checked again."""
        return replace(self, **changes)

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides) -> ModelOptions:
        """From the arguments `add_arguments` declared."""
        fields = {
            name: getattr(args, name)
            for name in ("translator", "summarizer", "beams", "device", "backend", "compute_type")
            if hasattr(args, name)
        }
        if hasattr(args, "memory"):
            fields["memory"] = None if getattr(args, "no_memory", False) else args.memory
        if getattr(args, "glossary", None) is not None:
            fields["glossary"] = args.glossary
        fields.update(overrides)
        return cls(**fields)


def add_arguments(
    parser: argparse.ArgumentParser,
    summarizer: bool = True,
    memory: str | None = None,
    glossary: bool = False,
) -> None:
    """The model options on `parser`. `memory`: None (no memory option), "on" (a default file,
    --no-memory turns it off) or "off" (no memory unless --memory is given). `glossary`: the
    --glossary option."""
    # Over 60 lines for a reason: one argument declaration after another, nothing to factor.
    parser.add_argument(
        "--translator",
        default=DEFAULT_TRANSLATOR,
        metavar="NAME|HUB_ID|DIR",
        help=f"translation model: a preset ({', '.join(names('translator'))}), a hub id or "
        f"a local directory (default: {DEFAULT_TRANSLATOR})",
    )
    if summarizer:
        parser.add_argument(
            "--summarizer",
            default=DEFAULT_SUMMARIZER,
            metavar="NAME|HUB_ID|DIR",
            help=f"summary model: a preset ({', '.join(names('summarizer'))}), a hub id or a "
            f"local directory (default: {DEFAULT_SUMMARIZER})",
        )
    parser.add_argument(
        "--beams",
        type=int,
        default=None,
        metavar="N",
        help=f"beam size, 1 to {MAX_BEAMS}; 0 or absent: the model's own (usually 4)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        metavar="DEVICE",
        help="auto (CUDA when usable, else CPU; default), cpu, cuda or cuda:N",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="ct2 (CTranslate2: int8 on CPU, float16 on CUDA, converted once on "
        "first use), torch, or auto (ct2 when installed; default)",
    )
    parser.add_argument(
        "--compute-type",
        choices=COMPUTE_TYPES,
        default=None,
        help="ct2 precision (default: int8 on CPU, float16 on CUDA)",
    )
    if glossary:
        parser.add_argument(
            "--glossary",
            type=Path,
            default=None,
            metavar="FILE",
            help="pinned spellings: a CSV or TSV file (the Arabic term, then its English) or a "
            "TBX file; every sentence holding a term uses its rendering, or says it could not",
        )
    if memory == "on":
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--memory",
            type=Path,
            default=None,
            metavar="PATH",
            help="sentence memory file (default: $KHULASA_HOME/memory.sqlite)",
        )
        group.add_argument("--no-memory", action="store_true", help="translate every sentence anew")
    elif memory == "off":
        parser.add_argument(
            "--memory",
            type=Path,
            default=None,
            metavar="PATH",
            help="sentence memory file (default: none). It keeps every visitor's sentences on disk",
        )
