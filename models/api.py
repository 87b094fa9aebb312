"""The small public surface the doors (`serve/`) and the measuring (`eval/`) call."""

from __future__ import annotations

from pathlib import Path

from .document import Document
from .loading import load_seq2seq, locate, resolve
from .pipeline import Pipeline
from .presets import DEFAULT_SUMMARIZER, DEFAULT_TRANSLATOR


def load_translator(spec: str = DEFAULT_TRANSLATOR, beams: int | None = None,
                    device: str = "auto", cache_dir: Path | None = None):
    """A Translator for a preset name, hub id or local directory (weights load once)."""
    from .translate import Translator

    return Translator(load_seq2seq(spec, "translator", device, cache_dir), beams=beams)


def load_summarizer(spec: str = DEFAULT_SUMMARIZER, beams: int | None = None,
                    device: str = "auto", cache_dir: Path | None = None):
    """A summariser for a preset, hub id or directory; None for the `none` preset."""
    from .summarize import AbstractiveSummarizer, ExtractiveSummarizer

    if spec == "none":
        return None
    if spec == "extractive":
        return ExtractiveSummarizer()
    return AbstractiveSummarizer(load_seq2seq(spec, "summarizer", device, cache_dir), beams=beams)


def load_pipeline(translator: str = DEFAULT_TRANSLATOR, summarizer: str = DEFAULT_SUMMARIZER,
                  beams: int | None = None, device: str = "auto",
                  cache_dir: Path | None = None) -> Pipeline:
    """Both models, loaded. Both are located first, so a missing one fails before any load."""
    check_available(translator, summarizer, cache_dir)
    return Pipeline(load_translator(translator, beams, device, cache_dir),
                    load_summarizer(summarizer, None, device, cache_dir))


def check_available(translator: str, summarizer: str | None = None,
                    cache_dir: Path | None = None) -> None:
    """Raise ModelNotFound for the first model whose files are not on this machine, quickly
    and without importing torch."""
    locate(resolve(translator, "translator"), cache_dir)
    if summarizer not in (None, "none", "extractive"):
        locate(resolve(summarizer, "summarizer"), cache_dir)


def process(text: str, translator: str = DEFAULT_TRANSLATOR,
            summarizer: str = DEFAULT_SUMMARIZER, beams: int | None = None) -> Document:
    """Translate and summarise one Arabic document."""
    return load_pipeline(translator, summarizer, beams).process(text)
