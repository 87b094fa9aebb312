"""Arabic→English translation with a transformers seq2seq model (the `torch` backend).

One method does the model work (`translate_nbest`: one `generate` call); batching, streaming
and the 1-best path are built on it. The ct2 backend overrides that one method (and queues
its batches at once); the sentence memory wraps either (models/memory.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from .interface import RETRY, Translation, collect
from .loading import LoadedModel
from .options import MAX_BEAMS, check_beams
from .text import split_long

NLLB_SOURCE, NLLB_TARGET = "arb_Arab", "eng_Latn"


def output_cap(source_tokens: int, limit: int) -> int:
    """Most tokens a translation of `source_tokens` tokens may have. English runs longer than
    Arabic in these vocabularies, but not 2x + 10: past that the model is looping."""
    return min(limit, 2 * source_tokens + 10)


def eos_id(gen) -> int:
    eos = gen.eos_token_id
    return int(eos[0] if isinstance(eos, (list, tuple)) else eos)


class PerRowCap:
    """A logits processor that forces end-of-sentence once a row reaches its own length cap
    (`caps` per sentence; rows are sentences x beams, as generate expands them)."""

    def __init__(self, caps: list[int], beams: int, eos_id: int):
        self.caps = [c for c in caps for _ in range(beams)]
        self.eos_id = eos_id

    def __call__(self, input_ids, scores):
        # input_ids holds positions 0..cur-1; the token chosen now sits at position cur.
        cur = input_ids.shape[1]
        rows = [i for i, cap in enumerate(self.caps) if cur >= cap - 1]
        if rows:
            eos_score = scores[rows, self.eos_id].clone()
            scores[rows] = float("-inf")
            scores[rows, self.eos_id] = eos_score.clamp(min=0.0)
        return scores


class TorchTranslator:
    """Translate sentences with a loaded model; output is 1:1 with input."""

    backend = "torch"

    def __init__(
        self,
        loaded: LoadedModel,
        beams: int | None = None,
        max_batch_tokens: int = 6000,
        max_batch_sentences: int = 48,
        length_rule: Callable[[int, int], int] = output_cap,
    ):
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.model = loaded.model
        gen = loaded.generation_config
        self.beams = check_beams(beams) or gen.num_beams or 1
        self.length_rule = length_rule  # (source tokens, limit) -> most output tokens
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_sentences = max_batch_sentences
        self.source_limit = loaded.input_limit
        # Decoder positions bound the output whatever the generation config says.
        self.output_limit = min(gen.max_length or loaded.positions, loaded.positions)
        self._generate_kwargs: dict = {}
        if type(self.tokenizer).__name__.startswith("Nllb"):
            self.tokenizer.src_lang = NLLB_SOURCE
            self._generate_kwargs["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(
                NLLB_TARGET
            )

    @property
    def settings(self) -> dict:
        """What identifies this translator's output: model, revision, backend, beams."""
        return {**self.loaded.identity, "backend": self.backend, "beams": self.beams}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, verbose=False)["input_ids"])

    def pieces(self, sentence: str) -> list[str]:
        return split_long(sentence, self.count_tokens, self.source_limit)

    def decoding(self, n: int, retry: bool) -> tuple[int, dict]:
        """Beams and extra generation settings for `n` hypotheses (and for a second try)."""
        beams = max(self.beams, n)
        if not retry:
            return beams, {}
        return min(MAX_BEAMS, beams * RETRY["beam_factor"]), {
            "no_repeat_ngram_size": RETRY["no_repeat_ngram_size"],
            "repetition_penalty": RETRY["repetition_penalty"],
        }

    def translate_nbest(
        self, texts: list[str], n: int = 1, retry: bool = False
    ) -> list[Translation]:
        """The `n` best translations of each text (each within the source limit) with their
        scores, in one `generate` call: beam search with at least `n` beams. Indices are
        positions in `texts`."""
        import torch

        if not texts:
            return []
        beams, extra = self.decoding(n, retry)
        batch = self.tokenizer(texts, return_tensors="pt", padding=True)
        batch = {k: v.to(self.loaded.device) for k, v in batch.items()}
        caps = [
            self.length_rule(int(k), self.output_limit) for k in batch["attention_mask"].sum(dim=1)
        ]
        # Each sentence gets its own cap, so a short sentence batched with a long one stops
        # where it would alone: batched output equals one-at-a-time output.
        cap_rows = PerRowCap(caps, beams, eos_id(self.loaded.generation_config))
        with torch.inference_mode():
            out = self.model.generate(
                **batch,
                num_beams=beams,
                num_return_sequences=n,
                max_length=max(caps),
                logits_processor=[cap_rows],
                **self._generate_kwargs,
                **extra,
            )
            scores = self.mean_log_probs(batch, out, n)
        flat = [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]
        return [
            Translation(
                i, tuple(flat[i * n : (i + 1) * n]), scores=tuple(scores[i * n : (i + 1) * n])
            )
            for i in range(len(texts))
        ]

    def mean_log_probs(self, batch: dict, sequences, n: int, rows: int = 8) -> list[float]:
        """Each returned sequence's mean log-probability per output token under the model
        (special tokens: end, padding, language codes, left out), by one teacher-forced pass
        over `rows` sequences at a time: generate's own per-step scores would hold the whole
        vocabulary for every step and beam in memory."""
        import torch

        special = torch.tensor(sorted(self.tokenizer.all_special_ids), device=sequences.device)
        inputs = {k: v.repeat_interleave(n, dim=0) for k, v in batch.items()}
        out = []
        for start in range(0, sequences.shape[0], rows):
            seq = sequences[start : start + rows]
            logits = self.model(
                **{k: v[start : start + rows] for k, v in inputs.items()},
                decoder_input_ids=seq[:, :-1],
            ).logits
            chosen = logits.log_softmax(-1).gather(-1, seq[:, 1:].unsqueeze(-1)).squeeze(-1)
            keep = ~torch.isin(seq[:, 1:], special)
            totals = torch.where(keep, chosen, torch.zeros_like(chosen)).sum(dim=1)
            out += (totals / keep.sum(dim=1).clamp(min=1)).tolist()
        return [round(float(v), 4) for v in out]

    def batches(
        self,
        texts: list[str],
        first_batch: int | None = None,
        max_sentences: int | None = None,
        beams: int | None = None,
    ) -> list[list[int]]:
        """Indices of `texts` grouped into length-sorted batches bounded by padded tokens x
        beams. `first_batch` > 0: the first that many texts come first, in reading order and
        alone (a watched stream shows the article's opening sooner), then length-sorted."""
        beams = beams or self.beams
        lengths = [self.count_tokens(t) for t in texts]
        # A watched stream starts with the article's first sentences, in reading order, one
        # per batch: the dateline shows at once, the lead right after (in parallel on ct2).
        head = list(range(min(first_batch or 0, len(texts))))
        groups: list[list[int]] = [[i] for i in head]
        rest: list[list[int]] = []
        limit = max_sentences or self.max_batch_sentences
        for i in sorted(range(len(head), len(texts)), key=lambda i: lengths[i]):
            group = rest[-1] if rest else None
            # Sorted ascending, so the newest item is the longest: it sets the padded width.
            if (
                group
                and len(group) < limit
                and (len(group) + 1) * lengths[i] * beams <= self.max_batch_tokens
            ):
                group.append(i)
            else:
                rest.append([i])
        return groups + rest

    def translate_iter(
        self, texts: list[str], n: int = 1, first_batch: int | None = None, retry: bool = False
    ) -> Iterator[list[Translation]]:
        for group in self.batches(texts, first_batch, beams=self.decoding(n, retry)[0]):
            done = self.translate_nbest([texts[i] for i in group], n, retry)
            yield [replace(t, index=i) for i, t in zip(group, done, strict=True)]

    def translate(self, texts: list[str]) -> list[str]:
        return [h[0] for h in collect(self, texts)]
