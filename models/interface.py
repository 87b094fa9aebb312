"""The translator interface every backend implements (torch, ct2, and the sentence memory in
front of either), and the result it yields.

n-best decoding is the one primitive: 1-best is n-best with n=1. Results carry whether they
came from the sentence memory, so nothing needs an out-parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# The second try's decoding: twice the beams (at most 16), no repeated trigram, and repeated
# tokens penalised; both backends support all three.
RETRY = {"beam_factor": 2, "no_repeat_ngram_size": 3, "repetition_penalty": 1.2}


@dataclass(frozen=True)
class Translation:
    """The translations of one input text: `index` is its position in the texts given."""

    index: int
    hypotheses: tuple[str, ...]  # best first; as many as asked for
    from_memory: bool = False
    # Model confidence of each hypothesis: mean log-probability per output token (special
    # tokens left out); None where unknown.
    scores: tuple[float | None, ...] = ()
    verified: bool = False  # a reader's correction kept in the sentence memory (/suggest)
    desk: bool = False  # from the desk's memory (imported TMX): a human translation

    @property
    def score(self) -> float | None:
        return self.scores[0] if self.scores else None

    @property
    def english(self) -> str:
        return self.hypotheses[0]


@runtime_checkable
class Translator(Protocol):
    """Translates sentences (each within the model's source limit) into English, 1:1."""

    backend: str

    @property
    def settings(self) -> dict:
        """What identifies the output: model, model_id, revision, backend, beams (ct2 adds
        compute_type). The sentence memory keys on it."""
        ...

    def count_tokens(self, text: str) -> int:
        """Source tokens of `text`, special tokens included."""
        ...

    def pieces(self, sentence: str) -> list[str]:
        """`sentence` as one piece, or several when it is over the model's source limit."""
        ...

    def translate_iter(
        self, texts: list[str], n: int = 1, first_batch: int | None = None, retry: bool = False
    ) -> Iterator[list[Translation]]:
        """The `n` best translations of every text, yielded batch by batch as each finishes
        (every index exactly once). `first_batch` caps the first batch's size. `retry`: the
        second-try decoding (RETRY below) for sentences the checks flagged."""
        ...

    def translate(self, texts: list[str]) -> list[str]:
        """The best translation of each text, in order."""
        ...


def collect(translator: Translator, texts: list[str], n: int = 1) -> list[tuple[str, ...]]:
    """Every text's `n` best translations, in input order (for callers that need no stream)."""
    out: list[tuple[str, ...]] = [()] * len(texts)
    for batch in translator.translate_iter(texts, n):
        for result in batch:
            out[result.index] = result.hypotheses
    return out


def joined(done: list[Translation], k: int) -> tuple[str, float | None]:
    """The k-th English of a sentence translated in pieces (`done`: each piece's Translation,
    in order; a piece with fewer hypotheses gives its last) and its score: the pieces' mean,
    None when one is unknown."""
    english = " ".join(
        h for r in done if (h := r.hypotheses[min(k, len(r.hypotheses) - 1)].strip())
    )
    scores = [r.scores[min(k, len(r.scores) - 1)] if r.scores else None for r in done]
    score = None if None in scores else round(sum(scores) / len(scores), 4)
    return english, score
