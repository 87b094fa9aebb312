"""The preset registry: names users type, mapped to hub ids and facts from the model cards.

Pure data, no heavy imports: `khulasa --help` and `khulasa models list` read it without
importing torch. The same table feeds argparse `choices` help and `khulasa models list`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # "translator" | "summarizer"
    hub_id: str | None  # None: built in, no weights
    licence: str
    params: str
    download: str
    note: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "opus-mt-tc-big",
            "translator",
            "Helsinki-NLP/opus-mt-tc-big-ar-en",
            "CC-BY-4.0",
            "241M",
            "~0.95 GB",
            "default; best quality (FLORES-200 BLEU 42.8)",
        ),
        Preset(
            "opus-mt",
            "translator",
            "Helsinki-NLP/opus-mt-ar-en",
            "Apache-2.0",
            "77M",
            "~0.31 GB",
            "fast; lower quality",
        ),
        Preset(
            "nllb-600m",
            "translator",
            "facebook/nllb-200-distilled-600M",
            "CC-BY-NC-4.0",
            "600M",
            "~2.5 GB",
            "non-commercial licence",
        ),
        Preset(
            "distilbart-cnn",
            "summarizer",
            "sshleifer/distilbart-cnn-12-6",
            "Apache-2.0",
            "306M",
            "~1.2 GB",
            "default abstractive summariser",
        ),
        Preset(
            "bart-large-cnn",
            "summarizer",
            "facebook/bart-large-cnn",
            "MIT",
            "406M",
            "~1.6 GB",
            "larger abstractive summariser",
        ),
        Preset(
            "extractive",
            "summarizer",
            None,
            "-",
            "-",
            "-",
            "picks translated sentences; no weights, exact provenance",
        ),
        Preset("none", "summarizer", None, "-", "-", "-", "no summary"),
    )
}

DEFAULT_TRANSLATOR = "opus-mt-tc-big"
DEFAULT_SUMMARIZER = "distilbart-cnn"


def names(kind: str) -> list[str]:
    return [p.name for p in PRESETS.values() if p.kind == kind]
