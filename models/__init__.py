"""khulasa's core: text handling, model loading, translation, summarisation, results.

The public surface is imported lazily, so `import models` (and `khulasa --help`) never
imports torch or transformers.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "Document": "models.document",
    "Segment": "models.document",
    "Paragraph": "models.document",
    "SummarySentence": "models.document",
    "KhulasaError": "models.errors",
    "InputError": "models.errors",
    "ModelNotFound": "models.errors",
    "ModelLoadError": "models.errors",
    "PRESETS": "models.presets",
    "Pipeline": "models.pipeline",
    "load_translator": "models.api",
    "load_summarizer": "models.api",
    "load_pipeline": "models.api",
    "check_available": "models.api",
    "process": "models.api",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
