"""The `ct2` backend: CTranslate2 runs the same models, converted once (int8 on CPU, float16
on CUDA) into a cache under KHULASA_HOME keyed by model, revision and quantisation.

Only `translate_nbest` / `generate` differ from the PyTorch classes: tokenisation, sentence
splitting, batching, length caps and provenance are shared, so both backends give 1:1 aligned
output and, in float32 greedy decoding, the same tokens.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from .env import khulasa_home, usable_cpus
from .errors import ModelLoadError
from .interface import Translation
from .loading import LoadedModel, load_seq2seq
from .summarize import AbstractiveSummarizer
from .translate import TorchTranslator

_CONVERT_LOCK = threading.Lock()
# Conversion speed measured on the 2-core CPU machine: a 294 MiB opus-mt checkpoint in 6.2 s.
CONVERT_BYTES_PER_S = 40 * 2**20


def default_compute_type(device: str) -> str:
    return "float16" if device.startswith("cuda") else "int8"


def converted_dir(loaded: LoadedModel, quantization: str, name: str | None = None) -> Path:
    """The CTranslate2 copy of `loaded`, converting it on first use (atomically, so two
    processes converting at once both end with one complete copy). `name`: what the notice
    calls the model (default: the name it was loaded by)."""
    slug = re.sub(r"[^\w.-]+", "--", loaded.ref.model_id).strip("-")[-80:]
    target = khulasa_home() / "ct2" / f"{slug}--{loaded.revision}--{quantization}"
    if (target / "model.bin").is_file():
        return target
    import ctranslate2

    with _CONVERT_LOCK:
        if (target / "model.bin").is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
        size = sum(f.stat().st_size for f in loaded.path.iterdir() if f.is_file())
        shown = repr(name or loaded.ref.name)
        print(
            f"khulasa: converting {shown} for the ct2 backend ({quantization}), once: "
            f"{size / 2**20:,.0f} MiB, about {max(1, round(size / CONVERT_BYTES_PER_S))} s; kept "
            f"in {target.parent}",
            file=sys.stderr,
            flush=True,
        )
        started = time.monotonic()
        try:
            source = _convertible_source(loaded, work)
            ctranslate2.converters.TransformersConverter(str(source)).convert(
                str(work / "out"), quantization=quantization, force=True
            )
            try:
                os.replace(work / "out", target)
            except OSError:
                if not (target / "model.bin").is_file():  # not another process's copy
                    raise
            print(f"khulasa: converted in {time.monotonic() - started:.0f} s", file=sys.stderr)
        except Exception as exc:
            raise ModelLoadError(
                f"Could not convert {loaded.ref.name!r} for the ct2 backend: {exc}. Fix: use "
                f"--backend torch."
            ) from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def prepare_ct2(ref, path: Path, device: str = "auto") -> Path:
    """The ct2 backend's copy of a located model, converted now if it is not there yet (what
    `khulasa models fetch` does after a download, so the first use does not)."""
    from .loading import pick_device

    device = pick_device(device)
    loaded = load_seq2seq(ref, path, device, weights=False)
    return converted_dir(loaded, default_compute_type(device), ref.name)


def _convertible_source(loaded: LoadedModel, work: Path) -> Path:
    """The model directory, or a linked copy whose config CTranslate2 accepts (BART configs
    need an explicit `normalize_before: false`)."""
    config = json.loads((loaded.path / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bart" or "normalize_before" in config:
        return loaded.path
    patched = work / "source"
    patched.mkdir()
    for f in loaded.path.iterdir():
        if f.name != "config.json":
            (patched / f.name).symlink_to(f.resolve())
    config["normalize_before"] = False
    (patched / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return patched


_ENGINES: dict[tuple, tuple] = {}


def _engine(loaded: LoadedModel, compute_type: str | None, parallel: bool):
    """The CTranslate2 engine for `loaded`, loaded once per process and compute type.
    `parallel`: one worker per core, each running its own batch (the translator's many
    batches), rather than all cores on one batch (the summariser's usual single chunk)."""
    import ctranslate2

    device = "cuda" if loaded.device.startswith("cuda") else "cpu"
    compute_type = compute_type or default_compute_type(device)
    quantization = "float32" if compute_type == "float32" else compute_type
    key = (str(loaded.path), device, compute_type, parallel)
    with _CONVERT_LOCK:
        if key in _ENGINES:
            return _ENGINES[key]
    path = converted_dir(loaded, quantization)
    # On CPU, one worker per core running its own batch beats all cores on one batch
    # (measured on 2 cores: 1.75 s against 2.18 s for the sample, greedy).
    workers = usable_cpus() if device == "cpu" and parallel else 1
    engine = ctranslate2.Translator(
        str(path),
        device=device,
        compute_type=compute_type,
        inter_threads=workers,
        intra_threads=1 if workers > 1 else 0,
    )
    with _CONVERT_LOCK:
        return _ENGINES.setdefault(key, (engine, compute_type, _target_vocabulary(path)))


def _target_vocabulary(path: Path) -> set[str]:
    for name in ("shared_vocabulary.json", "target_vocabulary.json"):
        if (path / name).is_file():
            return set(json.loads((path / name).read_text(encoding="utf-8")))
    return set()


def balanced_cuts(lengths: list[int], parts: int) -> list[int]:
    """Cut points splitting ascending `lengths` into at most `parts` contiguous runs that
    minimise the largest run cost, a run costing its size times its last (longest) length."""
    n = len(lengths)
    parts = min(parts, n)
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(parts + 1)]
    back = [[0] * (n + 1) for _ in range(parts + 1)]
    best[0][0] = 0
    for p in range(1, parts + 1):
        for j in range(1, n + 1):
            for i in range(p - 1, j):
                cost = max(best[p - 1][i], (j - i) * lengths[j - 1])
                if cost < best[p][j]:
                    best[p][j], back[p][j] = cost, i
    cuts, j = [], n
    for p in range(parts, 0, -1):
        j = back[p][j]
        cuts.append(j)
    return sorted(c for c in cuts if 0 < c < n)


class Ct2Translator(TorchTranslator):
    """Translator on CTranslate2; everything but the model call is inherited."""

    backend = "ct2"

    def __init__(
        self,
        loaded: LoadedModel,
        beams: int | None = None,
        compute_type: str | None = None,
        **kwargs,
    ):
        super().__init__(loaded, beams, **kwargs)
        self.engine, self.compute_type, vocab = _engine(loaded, compute_type, parallel=True)
        gen = loaded.generation_config
        self._options = _decode_options(self.tokenizer, gen, vocab)
        self._prefix = (
            [self.tokenizer.convert_ids_to_tokens(self._generate_kwargs["forced_bos_token_id"])]
            if "forced_bos_token_id" in self._generate_kwargs
            else None
        )

    @property
    def settings(self) -> dict:
        return {**super().settings, "compute_type": self.compute_type}

    @property
    def workers(self) -> int:
        return self.engine.num_translators

    def batches(
        self,
        texts: list[str],
        first_batch: int | None = None,
        max_sentences: int | None = None,
        beams: int | None = None,
    ) -> list[list[int]]:
        """As the torch translator's; but when all the text fits in one batch per engine
        worker, it is cut so the workers finish together (a batch decodes as many steps as
        its longest sentence needs, so the cut balances rows x longest length)."""
        beams = beams or self.beams
        groups = super().batches(texts, first_batch, max_sentences, beams)
        head = groups[: min(first_batch or 0, len(texts))]
        rest = [i for g in groups[len(head) :] for i in g]  # still in ascending length
        if self.workers < 2 or not 2 <= len(rest) <= 256:
            return groups
        lengths = [self.count_tokens(texts[i]) for i in rest]
        bounds = list(
            zip(
                [0, *(cuts := balanced_cuts(lengths, self.workers))],
                [*cuts, len(rest)],
                strict=True,
            )
        )
        if any((b - a) * lengths[b - 1] * beams > self.max_batch_tokens for a, b in bounds):
            return groups  # too much for one batch per worker: many batches, a shared queue
        return head + [rest[a:b] for a, b in bounds]

    def translate_iter(
        self, texts: list[str], n: int = 1, first_batch: int | None = None, retry: bool = False
    ) -> Iterator[list[Translation]]:
        """Batches are queued ahead, two per engine worker, so the workers run them in
        parallel and never wait for the next; results come back batch by batch, in order. A
        consumer that stops (a cancelled page run) leaves at most that many to finish."""
        beams = self.decoding(n, retry)[0]
        groups = deque(self.batches(texts, first_batch, beams=beams))
        jobs: deque = deque()
        while groups or jobs:
            while groups and len(jobs) < 2 * max(1, self.workers):
                group = groups.popleft()
                jobs.append((group, self.submit([texts[i] for i in group], n, retry)))
            group, job = jobs.popleft()
            done = self.collect(job)
            yield [replace(t, index=i) for i, t in zip(group, done, strict=True)]

    def translate_nbest(
        self, texts: list[str], n: int = 1, retry: bool = False
    ) -> list[Translation]:
        return self.collect(self.submit(texts, n, retry)) if texts else []

    def submit(self, texts: list[str], n: int, retry: bool = False) -> tuple:
        """Queue one batch on the engine; (source tokens, asynchronous results, caps)."""
        tokens = [
            self.tokenizer.convert_ids_to_tokens(self.tokenizer(t)["input_ids"]) for t in texts
        ]
        caps = [self.length_rule(len(t), self.output_limit) for t in tokens]
        beams, extra = self.decoding(n, retry)
        results = self.engine.translate_batch(
            tokens,
            [self._prefix] * len(texts) if self._prefix else None,
            beam_size=beams,
            num_hypotheses=n,
            asynchronous=True,
            return_scores=True,
            max_decoding_length=max(caps) - 2,
            max_input_length=0,
            **{**self._options, **extra},
        )
        return tokens, results, caps

    def collect(self, job: tuple) -> list[Translation]:
        """Wait for a submitted batch; its n best English texts per sentence, with scores:
        CTranslate2's own, the mean log-probability per token it wrote (a sentence cut at its
        own cap, shorter than the batch's, is scored over all the tokens decoded)."""
        _, results, caps = job
        # PyTorch writes decoder start + at most cap - 2 tokens + eos; CTranslate2 returns the
        # tokens alone (with any forced prefix): the same bound is cap - 2 of them.
        out = []
        for i, (result, cap) in enumerate(zip(results, caps, strict=True)):
            done = result.result()
            ids = [self.tokenizer.convert_tokens_to_ids(h[: cap - 2]) for h in done.hypotheses]
            texts = [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
            scores = tuple(round(float(s), 4) for s in done.scores)
            out.append(Translation(i, tuple(texts), scores=scores))
        return out


def _decode_options(tokenizer, gen, vocab: set[str]) -> dict:
    """The model's own generation settings in CTranslate2's words. Banned sequences that the
    converted vocabulary lacks (Marian's <pad> is dropped on conversion) cannot be generated
    anyway and are left out."""
    options = {
        "min_decoding_length": 0,
        "length_penalty": float(gen.length_penalty or 1.0),
        "no_repeat_ngram_size": int(gen.no_repeat_ngram_size or 0),
        "repetition_penalty": float(gen.repetition_penalty or 1.0),
    }
    banned = [tokenizer.convert_ids_to_tokens(seq) for seq in (gen.bad_words_ids or [])]
    banned = [seq for seq in banned if all(tok in vocab for tok in seq)]
    if banned:
        options["suppress_sequences"] = banned
    return options


class Ct2Summarizer(AbstractiveSummarizer):
    """BART-family summariser on CTranslate2 (chunking and provenance inherited)."""

    def __init__(
        self, loaded: LoadedModel, beams: int | None = None, compute_type: str | None = None
    ):
        super().__init__(loaded, beams)
        self.engine, self.compute_type, vocab = _engine(loaded, compute_type, parallel=False)
        gen = loaded.generation_config
        self._options = _decode_options(self.tokenizer, gen, vocab)
        # CTranslate2 ignores forced_bos_token_id: give it as the target prefix.
        bos = gen.forced_bos_token_id
        self._prefix = [self.tokenizer.convert_ids_to_tokens(bos)] if bos is not None else None

    @property
    def settings(self) -> dict:
        return {**super().settings, "backend": "ct2", "compute_type": self.compute_type}

    def generate(self, texts: list[str]) -> list[str]:
        tokens = [
            self.tokenizer.convert_ids_to_tokens(self.tokenizer(t)["input_ids"]) for t in texts
        ]
        results = self.engine.translate_batch(
            tokens,
            [self._prefix] * len(texts) if self._prefix else None,
            beam_size=self.beams,
            max_decoding_length=self.output_limit - 1,
            max_input_length=0,
            **{
                **self._options,
                # HF counts the decoder start in min_length; CTranslate2
                # counts generated tokens.
                "min_decoding_length": max(0, self.min_length - 1),
            },
        )
        hyps = [r.hypotheses[0][: self.output_limit - 2] for r in results]
        ids = [self.tokenizer.convert_tokens_to_ids(h) for h in hyps]
        return [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
