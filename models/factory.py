"""The one way to turn options into ready models: every door (CLI, page, REST, batch, bench,
eval) calls this. Each model is located once (fast, no torch, no network), loaded once per
process (cached), and the sentence memory is applied here and nowhere else."""

from __future__ import annotations

import threading
from pathlib import Path

from .errors import ModelNotFound
from .glossary import read_glossary
from .loading import ModelRef, find, load_seq2seq, pick_device
from .options import BACKENDS, ModelOptions, OptionError
from .pipeline import Pipeline

NO_WEIGHTS = ("none", "extractive")  # summariser presets built in
_CACHE: dict[tuple, object] = {}
_LOCK = threading.RLock()

Located = dict[str, tuple[ModelRef, Path]]


def pick_backend(backend: str) -> str:
    """`auto` is ct2 (CTranslate2 is one of khulasa's own requirements)."""
    if backend not in BACKENDS:
        raise OptionError(f"Unknown backend {backend!r}: use {', '.join(BACKENDS)}.")
    return "ct2" if backend == "auto" else backend


def locate(options: ModelOptions, summary: bool = True) -> Located:
    """Where each model's files are; ModelNotFound naming every missing one at once, with the
    fixes (a summariser that needs no weights among them). Quick and without torch: doors call
    it before any slow work."""
    wanted = [("translator", options.translator)]
    if summary and options.summarizer not in NO_WEIGHTS:
        wanted.append(("summarizer", options.summarizer))
    located, missing = {}, []
    for kind, spec in wanted:
        try:
            located[kind] = find(spec, kind)
        except ModelNotFound as exc:
            missing.append((kind, str(exc)))
    if missing:
        said = "\n".join(message for _, message in missing)
        if any(kind == "summarizer" for kind, _ in missing):
            said += (
                "\n or: --summarizer extractive   (key points picked from the translation: "
                "no weights needed)"
            )
        raise ModelNotFound(said + "\n" + TRY_OFFLINE)
    return located


TRY_OFFLINE = (
    "To try khulasa without network or weights: khulasa serve --replicas   (tiny models with "
    "random weights: every door works, the English is random words)"
)


def _model(kind: str, spec: str, options: ModelOptions, located: Located | None, beams):
    """The `kind` model for `spec` on the chosen backend and device, built once per process
    and settings. The ct2 backend needs the tokenizer and configs only, not torch weights."""
    ref, path = (located or {}).get(kind) or find(spec, kind)
    backend = pick_backend(options.backend)
    device = pick_device(options.device)
    key = (kind, str(path), device, backend, beams, options.compute_type)
    with _LOCK:
        if key not in _CACHE:
            loaded = load_seq2seq(ref, path, device, weights=backend == "torch")
            if backend == "ct2":
                from .ct2 import Ct2Summarizer, Ct2Translator

                cls = Ct2Translator if kind == "translator" else Ct2Summarizer
                _CACHE[key] = cls(loaded, beams=beams, compute_type=options.compute_type)
            else:
                from .summarize import AbstractiveSummarizer
                from .translate import TorchTranslator

                cls = TorchTranslator if kind == "translator" else AbstractiveSummarizer
                _CACHE[key] = cls(loaded, beams=beams)
        return _CACHE[key]


def build_translator(options: ModelOptions, located: Located | None = None):
    """The translator (torch or ct2) for `options`, without the sentence memory."""
    return _model("translator", options.translator, options, located, options.beams)


def build_summarizer(options: ModelOptions, located: Located | None = None):
    """The summariser, or None for the `none` preset. Its beams are the model's own."""
    from .summarize import ExtractiveSummarizer

    if options.summarizer == "none":
        return None
    if options.summarizer == "extractive":
        return ExtractiveSummarizer()
    return _model("summarizer", options.summarizer, options, located, None)


def open_memory(path: Path):
    """The sentence memory at `path`, one per process and path: (memory or None, warning)."""
    from .memory import open_memory as open_file

    key = ("memory", str(Path(path).resolve()))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = open_file(path)
        return _CACHE[key]


def build_pipeline(
    options: ModelOptions,
    summary: bool = True,
    mark_memory: bool = True,
    located: Located | None = None,
    make=None,
) -> Pipeline:
    """Both models, located first (so a missing one fails before any load), then loaded.
    `located`: what `locate` already found, so nothing is looked up twice. `make(kind,
    options, located)`: the models from elsewhere (serve --engine ray's deployments); the
    sentence memory is still applied here."""
    located = located or locate(options, summary)
    if make is not None and summary and options.summarizer in NO_WEIGHTS:
        make_summarizer = build_summarizer  # extractive or none: nothing to deploy
    elif make is not None:
        make_summarizer = lambda o, loc: make("summarizer", o, loc)  # noqa: E731
    else:
        make_summarizer = build_summarizer
    translator = (make("translator", options, located) if make else
                  build_translator(options, located))  # fmt: skip
    memory, warning = open_memory(options.memory) if options.memory else (None, None)
    if memory is not None:
        from .memory import MemoryTranslator

        translator = MemoryTranslator(translator, memory)
    summarizer = make_summarizer(options, located) if summary else None
    return Pipeline(
        translator,
        summarizer,
        mark_memory=mark_memory,
        memory=memory,
        warnings=[warning] if warning else [],
        glossary=read_glossary(options.glossary) if options.glossary else None,
    )


# The short forms, for scripts and notebooks: the same factory underneath.
def load_translator(
    spec: str,
    beams: int | None = None,
    device: str = "auto",
    backend: str = "auto",
    compute_type: str | None = None,
):
    options = ModelOptions(
        translator=spec,
        summarizer="none",
        beams=beams,
        device=device,
        backend=backend,
        compute_type=compute_type,
    )
    return build_translator(options)


def load_summarizer(
    spec: str, device: str = "auto", backend: str = "auto", compute_type: str | None = None
):
    options = ModelOptions(
        summarizer=spec, device=device, backend=backend, compute_type=compute_type
    )
    return build_summarizer(options)


def load_pipeline(
    translator: str,
    summarizer: str = "none",
    beams: int | None = None,
    device: str = "auto",
    backend: str = "auto",
    memory: Path | None = None,
) -> Pipeline:
    return build_pipeline(
        ModelOptions(translator, summarizer, beams, device, backend, memory=memory)
    )
