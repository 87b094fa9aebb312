"""Summaries of the English translation, each sentence carrying its `sources`.

- `ExtractiveSummarizer`: picks translated sentences (centroid ranking with a lead bonus, as
  news puts the gist first); provenance is exact. Needs no weights.
- `AbstractiveSummarizer`: a BART-CNN-family model. Input longer than the model's limit is
  summarised chunk by chunk, then the joined chunk summaries are summarised: never truncated.
"""

from __future__ import annotations

import math
from collections import Counter

from .document import UNSUPPORTED, SummarySentence
from .loading import LoadedModel
from .provenance import content_words, supporting_sources
from .text import split_english, split_long

Segments = list[tuple[int, str]]  # (segment index, english)
MAX_ROUNDS = 4  # chunk-then-merge rounds before giving the chunk summaries as they are


class ExtractiveSummarizer:
    mode = "extractive"
    name = "extractive"

    def __init__(self, sentences: int = 3):
        self.sentences = sentences

    @property
    def settings(self) -> dict:
        return {"model": self.name, "mode": self.mode}

    def summarize(self, segments: Segments, sentences: int | None = None) -> list[SummarySentence]:
        n = sentences or self.sentences
        words = {i: content_words(t) for i, t in segments}
        usable = [i for i, _ in segments if len(words[i]) >= 4] or [
            i for i, _ in segments if words[i]
        ]
        if not usable:
            return []
        df = Counter(w for i in usable for w in set(words[i]))
        idf = {w: math.log((1 + len(usable)) / (1 + c)) + 1 for w, c in df.items()}
        vectors = {i: _tfidf(words[i], idf) for i in usable}
        centroid: Counter = Counter()
        for v in vectors.values():
            centroid.update(v)
        scores = {
            i: cosine(vectors[i], centroid) * (1 + 0.5 / (1 + rank))
            for rank, i in enumerate(usable)
        }
        picked: list[int] = []
        for i in sorted(usable, key=lambda i: -scores[i]):
            if all(cosine(vectors[i], vectors[j]) < 0.6 for j in picked):
                picked.append(i)
            if len(picked) == n:
                break
        text = dict(segments)
        return [SummarySentence(text[i], [i]) for i in sorted(picked)]


def _tfidf(words: list[str], idf: dict[str, float]) -> Counter:
    tf = Counter(words)
    return Counter({w: c * idf[w] for w, c in tf.items()})


def cosine(a: Counter, b: Counter) -> float:
    """Cosine similarity of two sparse vectors."""
    dot = sum(v * b.get(w, 0.0) for w, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


class AbstractiveSummarizer:
    mode = "abstractive"

    def __init__(self, loaded: LoadedModel, beams: int | None = None):
        from .options import check_beams

        beams = check_beams(beams)
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.model = loaded.model
        gen = loaded.generation_config
        self.beams = beams or gen.num_beams or 1
        self.input_limit = loaded.input_limit
        self.output_limit = min(gen.max_length or loaded.positions, loaded.positions)
        self.name = loaded.ref.name

    @property
    def settings(self) -> dict:
        return {**self.loaded.identity, "mode": self.mode, "backend": "torch", "beams": self.beams}

    @property
    def min_length(self) -> int:
        """The model's min_length; one at or over the output limit could never be met, so
        both backends clamp it to half the limit."""
        declared = int(self.loaded.generation_config.min_length or 0)
        return declared if declared < self.output_limit else self.output_limit // 2

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, verbose=False)["input_ids"])

    def chunks(self, texts: list[str]) -> list[str]:
        """Consecutive texts joined into chunks that each fit the model's input limit."""
        out: list[str] = []
        for text in texts:
            for piece in split_long(text, self.count_tokens, self.input_limit):
                if out and self.count_tokens(out[-1] + " " + piece) <= self.input_limit:
                    out[-1] += " " + piece
                else:
                    out.append(piece)
        return out

    def generate(self, texts: list[str]) -> list[str]:
        """One `generate` call over inputs that each fit the limit."""
        import torch

        batch = self.tokenizer(texts, return_tensors="pt", padding=True)
        batch = {k: v.to(self.loaded.device) for k, v in batch.items()}
        with torch.inference_mode():
            out = self.model.generate(
                **batch,
                num_beams=self.beams,
                max_length=self.output_limit,
                min_length=self.min_length,
            )
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def summary_text(self, texts: list[str]) -> str:
        """Summarise `texts` (consecutive English sentences) whatever their total length."""
        chunks = self.chunks(texts)
        for _ in range(MAX_ROUNDS):
            summaries = self.generate(chunks)
            if len(summaries) == 1:
                return summaries[0]
            merged = self.chunks(summaries)
            if len(merged) >= len(chunks):
                break  # summaries no shorter than their input: stop rather than loop
            chunks = merged
        return " ".join(summaries)

    def summarize(self, segments: Segments, sentences: int | None = None) -> list[SummarySentence]:
        texts = [t for _, t in segments if t.strip()]
        if not texts:
            return []
        parts = split_english(self.summary_text(texts))
        if sentences:
            parts = parts[:sentences]
        out = []
        for part in parts:
            sources = supporting_sources(part, segments)
            out.append(SummarySentence(part, sources, [] if sources else [UNSUPPORTED]))
        return out
