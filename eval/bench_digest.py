"""`python -m khulasa.eval.bench_digest`: the coverage digest's speed, as JSON.

(a) **End to end**: 50 synthetic articles (~17 sentences each) through the `fast` pairing of
    `khulasa bench` (full-size opus-mt replica, auto backend, forced output lengths, extractive
    key points, checks off as there): the total, the model time, and the share spent outside
    the models (copies, stories, report groups and ranking). Target: <= 5 %.
(b) **Linking alone** on 100, 250, 500 and 1,000 synthetic documents (~17 sentences each),
    each size in a fresh process for its peak RSS: `make_digest` with a translator that looks
    the team's English up (no model), so the time is the digest's own work. Target: <= 30 s
    at 1,000 documents on 2 cores, growing near-linearly.

The synthetic coverage comes from the team's sentence-aligned data (eval/data/*.sent.*, 64
Arabic sentences with their English): a quarter as many stories as documents, each 17
sentences; most documents are copies of a story (sentences dropped, words dropped, sentences
added), the rest original reports whose sentences join halves of two sentences, so most of
their sentences occur nowhere else.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time

from ..models.digest.build import DigestInput, make_digest
from ..models.interface import Translation
from ..models.text import normalize
from .bench import PAIRINGS, forced_length, peak_rss_mb, replica
from .replicas import DATA_DIR as DATA

SIZES = (100, 250, 500, 1000)
SENTENCES = 17


def pairs() -> list[tuple[str, str]]:
    out = []
    for stem in ("brussels", "trust", "coverage/added", "coverage/unrelated"):
        arabic = (DATA / f"{stem}.sent.ar").read_text(encoding="utf-8").splitlines()
        english = (DATA / f"{stem}.sent.en").read_text(encoding="utf-8").splitlines()
        out += [(a, e) for a, e in zip(arabic, english, strict=True) if a.strip()]
    return out


def _drop_word(ar: str, en: str, rng: random.Random) -> tuple[str, str]:
    """One word out of the middle of each side (an edit a copy-desk makes)."""
    a, e = ar.split(), en.split()
    if len(a) > 4:
        del a[rng.randrange(1, len(a) - 1)]
    if len(e) > 4:
        del e[rng.randrange(1, len(e) - 1)]
    return " ".join(a), " ".join(e)


def _joined(x: tuple[str, str], y: tuple[str, str]) -> tuple[str, str]:
    """A new sentence: the first half of one and the second half of another, both sides."""
    a1, a2, e1, e2 = x[0].split(), y[0].split(), x[1].split(), y[1].split()
    return (
        " ".join(a1[: len(a1) // 2] + a2[len(a2) // 2 :]),
        " ".join(e1[: len(e1) // 2] + e2[len(e2) // 2 :]),
    )


def synthetic(n_docs: int, seed: int = 0) -> tuple[list[DigestInput], dict[str, str]]:
    """`n_docs` articles and the English of every sentence in them (normalised Arabic key)."""
    rng = random.Random(seed)
    pool = pairs()
    stories = [rng.sample(pool, SENTENCES) for _ in range(max(1, n_docs // 4))]
    english: dict[str, str] = {}
    docs = []
    for k in range(n_docs):
        if rng.random() < 0.7:  # a copy of a story, edited
            story = stories[min(int(rng.paretovariate(1.2)) - 1, len(stories) - 1)]
            sents = [s for s in story if rng.random() > 0.1]
            sents = [_drop_word(*s, rng) if rng.random() < 0.15 else s for s in sents]
            sents += rng.sample(pool, rng.randint(0, 2))
        else:  # an original report
            sents = [_joined(*rng.sample(pool, 2)) for _ in range(SENTENCES)]
        for ar, en in sents:
            english[normalize(ar)] = en
        docs.append(DigestInput(f"doc-{k}", "\n\n".join(a for a, _ in sents), outlet=f"O{k}"))
    return docs, english


class ReferenceTranslator:
    """The Translator interface answered from a table of English (no model): the digest's
    own work, timed alone."""

    backend = "none"

    def __init__(self, english: dict[str, str]):
        self.english = english

    @property
    def settings(self) -> dict:
        return {"model": "reference", "backend": "none", "beams": 0}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def pieces(self, sentence: str) -> list[str]:
        return [sentence]

    def translate_iter(self, texts, n=1, first_batch=None, retry=False):
        yield [
            Translation(i, (self.english.get(normalize(t), t),) * n) for i, t in enumerate(texts)
        ]

    def translate(self, texts):
        return [self.english.get(normalize(t), t) for t in texts]


def linking(n_docs: int) -> dict:
    """(b) for one size, in this process."""
    from ..models.pipeline import Pipeline
    from ..models.summarize import ExtractiveSummarizer

    docs, english = synthetic(n_docs)
    pipeline = Pipeline(ReferenceTranslator(english), ExtractiveSummarizer(), checks=False)
    started = time.perf_counter()
    digest = make_digest(pipeline, docs)
    seconds = time.perf_counter() - started
    ms, counts = digest.meta["timings_ms"], digest.meta["counts"]
    return {
        "documents": n_docs,
        "sentences": counts["sentences"],
        "stories": counts["stories"],
        "report_groups": counts["report_groups"],
        "seconds": round(seconds, 2),
        "link_s": round(ms["link"] / 1000, 2),
        "rank_s": round(ms["rank"] / 1000, 2),
        "segment_and_lookup_s": round(ms["translate"] / 1000, 2),
        "peak_rss_mb": peak_rss_mb(),
    }


def end_to_end(n_docs: int = 50) -> dict:
    """(a): the `fast` pairing on full-size replicas."""
    from ..models.factory import load_pipeline

    translator, summarizer, beams = PAIRINGS["fast"]
    pipeline = load_pipeline(str(replica(translator)), summarizer, beams)
    pipeline.translator.length_rule = forced_length
    pipeline.checks = False
    docs, _ = synthetic(n_docs, seed=1)
    make_digest(pipeline, docs[:2])  # warm-up
    started = time.perf_counter()
    digest = make_digest(pipeline, docs)
    total = time.perf_counter() - started
    ms = digest.meta["timings_ms"]
    outside = (ms["link"] + ms["rank"]) / 1000
    distinct = len({s.source for d in digest.documents for s in d.document.segments})
    return {
        "documents": n_docs,
        "sentences": digest.meta["counts"]["sentences"],
        "distinct_sentences_translated": distinct,
        "pairing": f"{translator} + {summarizer}, beams {beams}, {pipeline.translator.backend}",
        "total_s": round(total, 2),
        "models_s": round((ms["translate"] + ms["summarize"]) / 1000, 2),
        "outside_models_s": round(outside, 3),
        "outside_share": round(outside / total, 4),
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m khulasa.eval.bench_digest")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--e2e-docs", type=int, default=50)
    parser.add_argument("--no-e2e", action="store_true", help="linking alone (no models)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:  # a fresh process's part: one size of (b)
        print(json.dumps(linking(args.one)))
        return 0
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, "-m", "khulasa.eval.bench_digest", "--one", str(n)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"linking {n} documents: {rows[-1]['seconds']} s", file=sys.stderr)
    first, last = rows[0], rows[-1]
    growth = (last["seconds"] / last["sentences"]) / max(
        first["seconds"] / first["sentences"], 1e-9
    )
    result = {
        "linking": rows,
        "linking_per_1000_sentences_s": [
            round(r["seconds"] / r["sentences"] * 1000, 3) for r in rows
        ],
        "growth_per_sentence_first_to_last": round(growth, 2),
    }
    if not args.no_e2e:
        result["end_to_end"] = end_to_end(args.e2e_docs)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
