"""Replica models: the real presets' architecture, classes, tokenizer kinds and special-token
conventions, with random weights and tokenizers trained on the local sample text.

No machine here can download real weights, so tests load *tiny* replicas (through the same
loading code users run) and benchmarks time *full-size* replicas (speed does not depend on
weight values). A replica is never a product model: its translations are random words.
"""

from __future__ import annotations

import io
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
SIZES = ("tiny", "full")


@dataclass(frozen=True)
class Shape:
    d_model: int
    encoder_layers: int
    decoder_layers: int
    heads: int
    ffn: int
    positions: int
    vocab_size: int | None  # None: as large as the trained tokenizer


# Facts from the real models' configs (../shared/DESIGN.md). Tiny shapes keep tests fast;
# their small position limits make the length-limit paths easy to reach.
SHAPES = {
    ("opus-mt-tc-big", "full"): Shape(1024, 6, 6, 16, 4096, 1024, 61109),
    ("opus-mt", "full"): Shape(512, 6, 6, 8, 2048, 512, 62834),
    ("nllb-600m", "full"): Shape(1024, 12, 12, 16, 4096, 1024, 256206),
    ("distilbart-cnn", "full"): Shape(1024, 12, 6, 16, 4096, 1024, 50264),
    ("opus-mt-tc-big", "tiny"): Shape(32, 1, 1, 2, 64, 128, None),
    ("opus-mt", "tiny"): Shape(32, 1, 1, 2, 64, 128, None),
    ("nllb-600m", "tiny"): Shape(32, 1, 1, 2, 64, 128, None),
    ("distilbart-cnn", "tiny"): Shape(32, 2, 1, 2, 64, 512, None),
}
# Where the real Marian vocabularies put </s>: tc-big's eos is 25894, not 0.
MARIAN_EOS = {"opus-mt-tc-big": 25894, "opus-mt": 0}
MARIAN_ACTIVATION = {"opus-mt-tc-big": "relu", "opus-mt": "swish"}
REPLICA_PRESETS = ("opus-mt-tc-big", "opus-mt", "nllb-600m", "distilbart-cnn")


def arabic_text() -> str:
    return (DATA_DIR / "brussels_ar.txt").read_text(encoding="utf-8")


def english_text() -> str:
    return (DATA_DIR / "brussels_en.txt").read_text(encoding="utf-8")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def build_replica(preset: str, out_dir: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write a replica of `preset` to `out_dir` with `save_pretrained`; return the directory."""
    if (preset, size) not in SHAPES:
        raise ValueError(
            f"no replica for preset {preset!r} at size {size!r}; "
            f"known: {', '.join(REPLICA_PRESETS)} x {', '.join(SIZES)}"
        )
    import torch

    torch.manual_seed(seed)
    random.seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shape = SHAPES[(preset, size)]
    builder = {
        "opus-mt-tc-big": _build_marian,
        "opus-mt": _build_marian,
        "nllb-600m": _build_nllb,
        "distilbart-cnn": _build_bart,
    }[preset]
    builder(preset, shape, out, size)
    (out / "REPLICA.md").write_text(
        f"Replica of khulasa preset {preset!r} ({size}): random weights, not a real model.\n",
        encoding="utf-8",
    )
    return out


def _shape_config(shape: Shape, vocab_size: int) -> dict:
    """The config fields every replica sets from its Shape."""
    return dict(
        vocab_size=max(shape.vocab_size or 0, vocab_size),
        d_model=shape.d_model,
        encoder_layers=shape.encoder_layers,
        decoder_layers=shape.decoder_layers,
        encoder_attention_heads=shape.heads,
        decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn,
        decoder_ffn_dim=shape.ffn,
        max_position_embeddings=shape.positions,
    )


def _train_bpe(bpe, lines: list[str], vocab_size: int) -> tuple[dict, list[tuple[str, str]]]:
    """Train a `tokenizers` BPE with BART/NLLB's first four special tokens; vocab, merges."""
    bpe.train_from_iterator(
        lines,
        vocab_size=vocab_size,
        show_progress=False,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
    )
    model_json = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model_json["merges"]]
    return dict(model_json["vocab"]), merges


def _train_spm(lines: list[str], vocab_size: int) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


def _marian_vocab(pieces: list[str], size: int | None, eos_id: int) -> dict[str, int]:
    """Shared Marian vocabulary: `</s>` at the real model's eos id, `<pad>` last."""
    tokens = [p for p in dict.fromkeys(pieces) if p not in ("</s>", "<pad>", "<unk>")]
    tokens.insert(0, "<unk>")
    total = max(size or 0, len(tokens) + 2)
    eos_id = eos_id if eos_id < total - 1 else len(tokens) // 2
    tokens.insert(eos_id, "</s>")
    # Full-size replicas fill the real vocabulary size so every id the model emits decodes.
    tokens += [f"<fill_{i}>" for i in range(total - 1 - len(tokens))]
    tokens.append("<pad>")
    return {tok: i for i, tok in enumerate(tokens)}


# At the default initialisation (std 0.02) a tiny decoder hardly reads the encoder: its English
# followed the previous token, so most sentences came out as one string (on AVX2-only CPUs, in
# int8, every sentence did), and summaries and digests built on them collapsed. Scaling the
# cross-attention's value and output projections makes the English depend on the Arabic:
# distinct sentences give distinct English in float32 and in int8 on every CPU instruction set
# (tests/test_translate.py proves it under the default backend).
SOURCE_COUPLING = 10.0


def _couple_to_source(model, size: str) -> None:
    if size != "tiny":
        return  # full size times speed, which does not depend on weight values
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".encoder_attn." in name and name.endswith(("v_proj.weight", "out_proj.weight")):
                param.mul_(SOURCE_COUPLING)


def _build_marian(preset: str, shape: Shape, out: Path, size: str) -> None:
    import sentencepiece as spm
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    src_model = _train_spm(_lines(arabic_text()), 400)
    tgt_model = _train_spm(_lines(english_text()), 400)
    pieces = []
    for blob in (src_model, tgt_model):
        proc = spm.SentencePieceProcessor(model_proto=blob)
        pieces += [proc.id_to_piece(i) for i in range(proc.get_piece_size())]
    eos_real = MARIAN_EOS[preset]
    vocab = _marian_vocab(
        pieces,
        shape.vocab_size,
        eos_real if size == "full" else (0 if eos_real == 0 else len(set(pieces)) // 2),
    )
    (out / "source.spm").write_bytes(src_model)
    (out / "target.spm").write_bytes(tgt_model)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        source_spm=str(out / "source.spm"),
        target_spm=str(out / "target.spm"),
        vocab=str(out / "vocab.json"),
        model_max_length=shape.positions,
    )
    tokenizer.save_pretrained(out)
    pad, eos = vocab["<pad>"], vocab["</s>"]
    config = MarianConfig(
        **_shape_config(shape, len(vocab)),
        activation_function=MARIAN_ACTIVATION[preset],
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        forced_eos_token_id=eos,
    )
    model = MarianMTModel(config).eval()
    _couple_to_source(model, size)
    model.generation_config = GenerationConfig(
        num_beams=4,
        max_length=shape.positions,
        bad_words_ids=[[pad]],
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        forced_eos_token_id=eos,
    )
    model.save_pretrained(out)


def _build_nllb(preset: str, shape: Shape, out: Path, size: str) -> None:
    from tokenizers import SentencePieceBPETokenizer
    from transformers import (
        GenerationConfig,
        M2M100Config,
        M2M100ForConditionalGeneration,
        NllbTokenizer,
    )

    vocab, merges = _train_bpe(
        SentencePieceBPETokenizer(), _lines(arabic_text()) + _lines(english_text()), 600
    )

    def tokenizer_for(vocab):
        return NllbTokenizer(
            vocab=vocab,
            merges=merges,
            src_lang="arb_Arab",
            tgt_lang="eng_Latn",
            model_max_length=shape.positions,
        )

    tokenizer = tokenizer_for(vocab)
    if shape.vocab_size:  # full size: fill up to the real vocabulary, language codes after
        added = len(tokenizer) - len(vocab)
        vocab.update({f"<fill_{i}>": i for i in range(len(vocab), shape.vocab_size - added)})
        tokenizer = tokenizer_for(vocab)
    tokenizer.save_pretrained(out)
    config = M2M100Config(
        **_shape_config(shape, len(tokenizer)),
        activation_function="relu",
        scale_embedding=True,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    model = M2M100ForConditionalGeneration(config).eval()
    _couple_to_source(model, size)
    model.generation_config = GenerationConfig(
        num_beams=4,
        max_length=200,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    model.save_pretrained(out)


def _build_bart(preset: str, shape: Shape, out: Path, size: str) -> None:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        BartTokenizerFast,
        GenerationConfig,
    )

    vocab, merges = _train_bpe(ByteLevelBPETokenizer(), _lines(english_text()), 700)
    # Full size: fill up to the real vocabulary (CTranslate2 wants tokenizer == embeddings).
    vocab.update({f"<fill_{i}>": i for i in range(len(vocab), shape.vocab_size or 0)})
    vocab["<mask>"] = len(vocab)
    tokenizer = BartTokenizerFast(vocab=vocab, merges=merges, model_max_length=shape.positions)
    tokenizer.save_pretrained(out)
    config = BartConfig(
        **_shape_config(shape, len(tokenizer)),
        activation_function="gelu",
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        # CTranslate2 refuses BART configs without it (../shared/DESIGN.md).
        normalize_before=False,
    )
    model = BartForConditionalGeneration(config).eval()
    # transformers 5 drops generation settings given to BartConfig: set them here.
    model.generation_config = GenerationConfig(
        num_beams=4,
        length_penalty=2.0,
        min_length=56,
        max_length=142,
        no_repeat_ngram_size=3,
        early_stopping=True,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    model.save_pretrained(out)


OFFLINE = ("opus-mt", "distilbart-cnn")  # what `khulasa serve --replicas` serves


def offline_models(root: Path | None = None) -> tuple[Path, Path]:
    """Tiny replicas of the translator and the summariser `serve --replicas` serves, built
    into `$KHULASA_HOME/replicas/tiny-PRESET` the first time (a few seconds) and reused after
    (the khulasa.replicas entry point: serve loads it, never importing this package)."""
    from transformers.utils import logging as hf_logging

    from ..models.env import khulasa_home

    hf_logging.disable_progress_bar()  # a console line says what is built, not a bar per file
    root = Path(root) if root else khulasa_home() / "replicas"
    out = []
    for preset in OFFLINE:
        folder = root / f"tiny-{preset}"
        if not (folder / "REPLICA.md").is_file():  # written last: a half-built one is redone
            build_replica(preset, folder, size="tiny")
        out.append(folder)
    return out[0], out[1]


# The benchmarks' full-size replicas and their forced output lengths (`khulasa bench` and the
# bench_* modules): random weights never stop on their own, so each writes a fixed length.
SUMMARY_TOKENS = 80  # forced summary length: a typical distilbart-cnn summary


def forced_length(source_tokens: int, limit: int) -> int:
    """A sequence cap (decoder start + tokens + end) that makes a replica write exactly
    ceil(1.25 x source tokens) tokens: random weights never stop on their own."""
    return min(limit, math.ceil(1.25 * source_tokens) + 2)


def replica(preset: str, root: Path | None = None, size: str = "full") -> Path:
    """The `size` replica of `preset` (tiny: the smoke test's, timings meaningless), built
    once and cached."""
    from ..models.env import khulasa_home

    path = (root or khulasa_home() / "replicas") / f"{preset}-{size}"
    if not (path / "config.json").is_file():
        say(
            f"building the {size} replica of {preset} into {path} (once; full size on 2 cores: "
            f"about 10 s for opus-mt, 18 s for opus-mt-tc-big, longer for the larger models)"
        )
        started = time.perf_counter()
        build_replica(preset, path, size=size)
        say(f"built in {time.perf_counter() - started:.0f} s")
    return path


def say(message: str) -> None:
    """Progress, on standard error (standard output is the result)."""
    print(f"khulasa bench: {message}", file=sys.stderr, flush=True)
