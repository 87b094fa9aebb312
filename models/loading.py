"""Finding and loading model weights: a preset name, a hub id or a local directory in; a loaded
model and tokenizer out, once per process.

Loading never downloads. Weights arrive with `khulasa models fetch` (an explicit step that
needs network); everything else reads only the local cache, so a missing model fails in a
fraction of a second with the fix in the message, instead of after a minute of retries.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .env import hf_cache_dir
from .errors import DeviceError, ModelLoadError, ModelNotFound
from .presets import PRESETS, Preset, names

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# Files a fetch skips: other frameworks' weights and exports we never load.
FETCH_IGNORE = [
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "*.tflite",
    "rust_model*",
    "flax_*",
    "tf_*",
    "onnx/*",
    "*.gguf",
]


@dataclass(frozen=True)
class ModelRef:
    """What the user asked for, resolved: a preset, a hub id or a local directory."""

    spec: str
    kind: str  # "translator" | "summarizer"
    preset: Preset | None
    hub_id: str | None
    path: Path | None

    @property
    def name(self) -> str:
        return self.preset.name if self.preset else self.spec

    @property
    def model_id(self) -> str:
        return self.hub_id or str(self.path)

    @property
    def shown(self) -> str:
        """What results name the model by: a preset's name, a hub id, or a local model's
        folder name (never the machine's path: results leave the server)."""
        if self.preset:
            return self.preset.name
        return self.hub_id or (self.path.name if self.path else self.spec)


def resolve(spec: str, kind: str) -> ModelRef:
    """Turn `spec` into a ModelRef without touching the network or loading anything."""
    spec = spec.strip()
    preset = PRESETS.get(spec)
    if preset is not None:
        if preset.kind != kind:
            raise ModelNotFound(
                f"{spec!r} is a {preset.kind} preset, not a {kind}. "
                f"List the {kind} presets with: khulasa models list"
            )
        return ModelRef(spec, kind, preset, preset.hub_id, None)
    # An existing directory wins; a missing relative path would otherwise pass for a hub id.
    path = Path(spec).expanduser()
    if path.is_dir():
        return ModelRef(spec, kind, None, None, path.resolve())
    if spec.startswith((".", "/", "~")) or "\\" in spec or not _HUB_ID.match(spec):
        raise ModelNotFound(
            f"{kind.capitalize()} {spec!r}: there is no directory at "
            f"{path.resolve()}. Fix: pass a directory saved with "
            f"save_pretrained, a hub id, or a preset (khulasa models list)."
        )
    return ModelRef(spec, kind, None, spec, None)


def locate(ref: ModelRef, cache_dir: Path | None = None) -> Path:
    """The local directory holding `ref`'s files, or ModelNotFound naming where we looked and
    the command that fixes it. Never goes to the network."""
    if ref.path is not None:
        if not (ref.path / "config.json").is_file():
            raise ModelNotFound(
                f"{ref.kind.capitalize()} directory {ref.path} holds no config.json, so it is "
                f"not a saved model. Fix: point --{ref.kind} at the directory that "
                f"save_pretrained wrote (it has config.json and the weights)."
            )
        return ref.path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    cache = Path(cache_dir) if cache_dir else hf_cache_dir()
    try:
        found = Path(snapshot_download(ref.hub_id, cache_dir=cache, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        found = None
    if found is None or not (found / "config.json").is_file():
        raise ModelNotFound(_missing_message(ref, cache))
    return found


def _missing_message(ref: ModelRef, cache: Path) -> str:
    if ref.preset is None and "/" not in ref.spec:  # a bare name: a preset mistyped, most likely
        presets = ", ".join(names(ref.kind))
        return (
            f"{ref.kind.capitalize()} {ref.spec!r} is not a preset, and no model of that name "
            f"is on this machine: looked in the Hugging Face cache at {cache}.\n"
            f"Fix: --{ref.kind} {names(ref.kind)[0]}   (the presets: {presets}; khulasa models "
            f"list)\n"
            f" or: khulasa models fetch ORG/NAME, then --{ref.kind} ORG/NAME   (a hub id)\n"
            f" or: --{ref.kind} /path/to/model-dir   (a directory saved with save_pretrained)"
        )
    label = f"{ref.preset.name!r} ({ref.hub_id})" if ref.preset else repr(ref.hub_id)
    size = f", {ref.preset.download}" if ref.preset else ""
    return (
        f"{ref.kind.capitalize()} model {label} is not on this machine: looked in the "
        f"Hugging Face cache at {cache}.\n"
        f"Fix: khulasa models fetch {ref.spec}   (downloads it once{size}; needs network)\n"
        f" or: --{ref.kind} /path/to/model-dir   (a directory saved with save_pretrained)"
    )


def revision_of(path: Path) -> str:
    """The hub commit for a cached snapshot; a short content hash for a local directory."""
    if path.parent.name == "snapshots":
        return path.name
    digest = hashlib.sha1()
    for f in sorted(path.iterdir()):
        if f.is_file():
            digest.update(f"{f.name}:{f.stat().st_size}".encode())
            if f.name == "config.json":
                digest.update(f.read_bytes())
    return "local-" + digest.hexdigest()[:12]


@dataclass
class LoadedModel:
    ref: ModelRef
    path: Path
    revision: str
    config: object  # transformers PretrainedConfig
    generation_config: object  # transformers GenerationConfig
    tokenizer: object
    device: str
    model: object | None = None  # the PyTorch weights; None when another backend runs them

    @property
    def identity(self) -> dict:
        """What names this model in results and memory keys: name, id and revision."""
        local = self.ref.hub_id is None and self.ref.path is not None
        model_id = f"local:{self.ref.shown}" if local else self.ref.model_id
        return {"model": self.ref.shown, "model_id": model_id, "revision": self.revision}

    @property
    def positions(self) -> int:
        """How many tokens the model's position embeddings hold (encoder and decoder)."""
        return int(getattr(self.config, "max_position_embeddings", 0) or 1024)

    @property
    def input_limit(self) -> int:
        """Most source tokens (specials included) one model input may have."""
        declared = getattr(self.tokenizer, "model_max_length", None) or self.positions
        return min(int(declared) if declared < 1e9 else self.positions, self.positions)


_LOADED: dict[tuple, LoadedModel] = {}
_LOCK = threading.Lock()


def pick_device(device: str = "auto") -> str:
    """`auto` is CUDA where a GPU is usable, else CPU; asking for CUDA without a usable GPU is
    a DeviceError naming the fix."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            found = f"{count} usable GPU(s)" if count else "no usable GPU (CUDA)"
            raise DeviceError(
                f"--device {device}: this machine has {found}. Fix: --device cpu or --device auto."
            )
    return device


def find(spec: str, kind: str, cache_dir: Path | None = None) -> tuple[ModelRef, Path]:
    """Resolve `spec` and locate its files (never loads, never goes to the network)."""
    ref = resolve(spec, kind)
    return ref, locate(ref, cache_dir)


def load_seq2seq(ref: ModelRef, path: Path, device: str, weights: bool = True) -> LoadedModel:
    """Load a located model's tokenizer, configs and (with `weights`) its PyTorch weights,
    once per process. `device` is a concrete one (pick_device)."""
    key = (str(path), device, weights)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(ref, path, device, weights)
        return _LOADED[key]


def _load(ref: ModelRef, path: Path, device: str, weights: bool) -> LoadedModel:
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        if weights:
            model = AutoModelForSeq2SeqLM.from_pretrained(path, local_files_only=True)
            model.to(device).eval()
            generation = model.generation_config
        else:
            model = None
            try:
                generation = GenerationConfig.from_pretrained(path, local_files_only=True)
            except OSError:  # older models keep generation settings in config.json
                generation = GenerationConfig.from_model_config(config)
    except (OSError, ValueError, KeyError, ImportError) as exc:
        raise ModelLoadError(
            f"{ref.kind.capitalize()} {ref.name!r} at {path} did not load as a "
            f"sequence-to-sequence model: {exc}. Fix: re-fetch it (khulasa models fetch "
            f"{ref.spec}) or point --{ref.kind} at a model saved with save_pretrained."
        ) from exc
    return LoadedModel(ref, path, revision_of(path), config, generation, tokenizer, device, model)
