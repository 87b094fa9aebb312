"""The small public surface the doors (`serve/`) and the measuring (`eval/`) call."""

from __future__ import annotations

from pathlib import Path

from .document import Document
from .loading import load_seq2seq, locate, resolve
from .pipeline import Pipeline
from .presets import DEFAULT_SUMMARIZER, DEFAULT_TRANSLATOR

BACKENDS = ("auto", "torch", "ct2")


def pick_backend(backend: str) -> str:
    """`auto` is ct2 where CTranslate2 is installed, else torch."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        from .ct2 import available

        return "ct2" if available() else "torch"
    return backend


def load_translator(spec: str = DEFAULT_TRANSLATOR, beams: int | None = None,
                    device: str = "auto", cache_dir: Path | None = None,
                    backend: str = "torch", compute_type: str | None = None):
    """A Translator for a preset name, hub id or local directory (weights load once)."""
    if pick_backend(backend) == "ct2":
        from .ct2 import Ct2Translator

        loaded = load_seq2seq(spec, "translator", device, cache_dir, weights=False)
        return Ct2Translator(loaded, beams=beams, compute_type=compute_type)
    from .translate import Translator

    return Translator(load_seq2seq(spec, "translator", device, cache_dir), beams=beams)


def load_summarizer(spec: str = DEFAULT_SUMMARIZER, beams: int | None = None,
                    device: str = "auto", cache_dir: Path | None = None,
                    backend: str = "torch", compute_type: str | None = None):
    """A summariser for a preset, hub id or directory; None for the `none` preset."""
    from .summarize import AbstractiveSummarizer, ExtractiveSummarizer

    if spec == "none":
        return None
    if spec == "extractive":
        return ExtractiveSummarizer()
    if pick_backend(backend) == "ct2":
        from .ct2 import Ct2Summarizer

        loaded = load_seq2seq(spec, "summarizer", device, cache_dir, weights=False)
        return Ct2Summarizer(loaded, beams=beams, compute_type=compute_type)
    return AbstractiveSummarizer(load_seq2seq(spec, "summarizer", device, cache_dir), beams=beams)


def load_pipeline(translator: str = DEFAULT_TRANSLATOR, summarizer: str = DEFAULT_SUMMARIZER,
                  beams: int | None = None, device: str = "auto",
                  cache_dir: Path | None = None, backend: str = "torch") -> Pipeline:
    """Both models, loaded. Both are located first, so a missing one fails before any load."""
    check_available(translator, summarizer, cache_dir)
    return Pipeline(load_translator(translator, beams, device, cache_dir, backend),
                    load_summarizer(summarizer, None, device, cache_dir, backend))


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
