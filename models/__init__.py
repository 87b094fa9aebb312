"""khulasa's core: text handling, model loading, translation, summarisation, results.

The public surface is imported lazily, so `import khulasa.models` (and `khulasa --help`)
never imports torch or transformers.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "Document": ".document",
    "Segment": ".document",
    "Paragraph": ".document",
    "SummarySentence": ".document",
    "KhulasaError": ".errors",
    "InputError": ".errors",
    "OptionError": ".errors",
    "ModelNotFound": ".errors",
    "ModelLoadError": ".errors",
    "PRESETS": ".presets",
    "ModelOptions": ".options",
    "Pipeline": ".pipeline",
    "Translator": ".interface",
    "Translation": ".interface",
    "build_pipeline": ".factory",
    "locate": ".factory",
    "load_translator": ".factory",
    "load_summarizer": ".factory",
    "load_pipeline": ".factory",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
