"""Batching across readers: the sentences of every job running at once share model batches.

A server runs several readers' articles at once (`--concurrency`); alone, each job would call
the model with its own batches, one after the other, and two readers' sentences would never
share one. `SharedTranslator` sits in front of one translator: every job's sentences join one
line, and a single worker takes them in rounds:

- a round waits `window` seconds after the line was empty (others' sentences join it), then
  takes at most `budget` padded source tokens x beams (about one model batch per engine
  worker), so a reader who arrives later waits one round, not a whole article;
- a stream's first sentences (`first_batch`) go first, in a round of their own: a new reader
  sees text as soon as with no one else on the server;
- the rest is taken in turn from every waiting job (round robin), so a long article does not
  hold back a short one;
- each round goes through the translator's own `translate_iter` (length-sorted batches), and
  every finished batch is handed back to its jobs at once: each reader's sentences still
  arrive as they are done, each job gets exactly its own, every index once.

A job whose reader went away (its generator closed) has its waiting sentences dropped. An
error in a round is raised in every job that had a sentence in it.

`SharedSummarizer` does the same for an abstractive summariser's `generate` calls (several
articles' chunks in one batch of at most `rows`).
"""

from __future__ import annotations

import copy
import itertools
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from .interface import Translation, collect

WINDOW = 0.01  # seconds a round waits for other readers' sentences after an empty line
SUMMARY_ROWS = 8  # summariser inputs in one shared batch


@dataclass(eq=False)
class _Job:
    """One caller's sentences: results come back on `out`."""

    n: int
    retry: bool
    out: queue.Queue = field(default_factory=queue.Queue)
    closed: bool = False


@dataclass(eq=False)
class _Item:
    job: _Job
    index: int  # the sentence's position in its job's texts
    text: str
    tokens: int
    head: bool  # one of the stream's first sentences
    seq: int


class _Closed(Exception):
    pass


class _OneWorker:
    """A line that one worker thread empties in rounds: `_round_of_line()` takes and runs
    one round; a round after an empty line waits `window` seconds for others to join."""

    name = "khulasa-shared"
    window = WINDOW

    def _start(self) -> None:  # called with self._wake held
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, daemon=True, name=self.name)
            self._worker.start()

    def _run(self) -> None:
        while True:
            with self._wake:
                idle = not self._line
                while not self._line:
                    self._wake.wait()
            if idle and self.window > 0:
                time.sleep(self.window)  # the round's window: other jobs' work joins
            self._round_of_line()


class SharedTranslator(_OneWorker):
    """A translator whose model batches hold the sentences of every job running at once
    (see the module's text). Everything but `translate_iter` is the inner translator's."""

    def __init__(self, inner, window: float = WINDOW, budget: int | None = None):
        self.inner = inner
        self.backend = inner.backend
        self.window = window
        workers = max(1, int(getattr(inner, "workers", 1)))
        self.budget = budget or getattr(inner, "max_batch_tokens", 6000) * workers
        self._line: list[_Item] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None
        self.rounds = 0  # model rounds run (for the tests and /metrics)
        self.mixed = 0  # rounds that held more than one job's sentences

    @property
    def settings(self) -> dict:
        return self.inner.settings

    @property
    def workers(self) -> int:
        return getattr(self.inner, "workers", 1)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def pieces(self, sentence: str) -> list[str]:
        return self.inner.pieces(sentence)

    def waiting(self) -> int:
        """Sentences in the line, not yet in a round."""
        with self._wake:
            return len(self._line)

    def translate_iter(
        self, texts: list[str], n: int = 1, first_batch: int | None = None, retry: bool = False
    ) -> Iterator[list[Translation]]:
        if not texts:
            return
        job = _Job(n, retry)
        heads = min(first_batch or 0, len(texts))
        items = [
            _Item(job, i, t, self.inner.count_tokens(t), i < heads, next(self._seq))
            for i, t in enumerate(texts)
        ]
        with self._wake:
            self._line.extend(items)
            self._start()
            self._wake.notify()
        left = len(texts)
        try:
            while left:
                batch = job.out.get()
                if isinstance(batch, BaseException):
                    raise batch
                left -= len(batch)
                yield batch
        finally:
            job.closed = True  # a reader who went away: their waiting sentences are dropped

    def translate(self, texts: list[str]) -> list[str]:
        return [h[0] for h in collect(self, texts)]

    name = "khulasa-shared-batches"

    def _round_of_line(self) -> None:
        items = self._take()
        if items:
            self._round(items)

    def _take(self) -> list[_Item]:
        """The next round: the waiting first sentences if any, else sentences taken in turn
        from every job, up to the token budget (at least one); one (n, retry) kind a round."""
        with self._wake:
            self._line = [it for it in self._line if not it.job.closed]
            if not self._line:
                return []
            heads = [it for it in self._line if it.head]
            pool = heads or self._line
            kind = (pool[0].job.n, pool[0].job.retry)
            pool = [it for it in pool if (it.job.n, it.job.retry) == kind]
            beams = max(getattr(self.inner, "beams", 1), kind[0])
            by_job: dict[_Job, list[_Item]] = {}
            for it in pool:  # in arrival order within each job
                by_job.setdefault(it.job, []).append(it)
            taken: list[_Item] = []
            width = 0
            queues = list(by_job.values())
            while queues:
                for q in list(queues):
                    it = q.pop(0)
                    width = max(width, it.tokens)
                    if taken and (len(taken) + 1) * width * beams > self.budget:
                        queues = []
                        break
                    taken.append(it)
                    if not q:
                        queues.remove(q)
            chosen = set(map(id, taken))
            self._line = [it for it in self._line if id(it) not in chosen]
            return taken

    def _round(self, items: list[_Item]) -> None:
        n, retry = items[0].job.n, items[0].job.retry
        heads = all(it.head for it in items)
        self.rounds += 1
        self.mixed += len({id(it.job) for it in items}) > 1
        texts = [it.text for it in items]
        # A round of first sentences: each alone (as a lone reader's stream), unless many
        # readers' first sentences arrived together: then they share batches.
        first = len(items) if heads and len(items) <= max(2, self.workers) else None
        delivered = set()
        try:
            for batch in self.inner.translate_iter(texts, n, first, retry):
                per_job: dict[_Job, list[Translation]] = {}
                for result in batch:
                    it = items[result.index]
                    delivered.add(result.index)
                    per_job.setdefault(it.job, []).append(replace(result, index=it.index))
                for job, results in per_job.items():
                    if not job.closed:
                        job.out.put(results)
        except Exception as exc:  # every job still waiting on this round is told
            for job in {id(it.job): it.job for i, it in enumerate(items)
                        if i not in delivered}.values():  # fmt: skip
                job.out.put(exc)


class SharedSummarizer(_OneWorker):
    """An abstractive summariser whose `generate` calls from jobs running at once share
    batches of at most `rows` inputs, run by one worker (the model is never called from two
    threads at once). Its summaries are the inner summariser's, made the same way."""

    def __init__(self, inner, window: float = WINDOW, rows: int = SUMMARY_ROWS):
        self.inner = inner
        self.window, self.rows = window, rows
        self._line: list[tuple[str, queue.Queue, int]] = []
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None
        self._summarizer = copy.copy(inner)
        self._summarizer.generate = self.generate  # the inner's summary_text calls this
        self.rounds = 0

    def __getattr__(self, name):  # settings, mode, name, beams, ...: the inner's
        return getattr(self.inner, name)

    def summarize(self, segments, sentences: int | None = None):
        return self._summarizer.summarize(segments, sentences)

    def generate(self, texts: list[str]) -> list[str]:
        out: queue.Queue = queue.Queue()
        with self._wake:
            self._line.extend((t, out, i) for i, t in enumerate(texts))
            self._start()
            self._wake.notify()
        results: list[str | None] = [None] * len(texts)
        for _ in texts:
            got = out.get()
            if isinstance(got, BaseException):
                raise got
            i, summary = got
            results[i] = summary
        return results

    name = "khulasa-shared-summaries"

    def _round_of_line(self) -> None:
        with self._wake:
            taken, self._line = self._line[: self.rows], self._line[self.rows :]
        self.rounds += 1
        try:
            summaries = self.inner.generate([t for t, _, _ in taken])
        except Exception as exc:
            for _, out, _ in taken:
                out.put(exc)
            return
        for (_, out, i), summary in zip(taken, summaries, strict=True):
            out.put((i, summary))


def shared(pipeline, window: float = WINDOW):
    """`pipeline` with its model translator (behind the sentence memory, if any) and its
    abstractive summariser shared across jobs (a copy: the original is left as it was)."""
    pipeline = copy.copy(pipeline)
    translator = pipeline.translator
    if hasattr(translator, "memory") and hasattr(translator, "inner"):  # MemoryTranslator
        translator = copy.copy(translator)
        translator.inner = _one(SharedTranslator, translator.inner, window)
    else:
        translator = _one(SharedTranslator, translator, window)
    pipeline.translator = translator
    summarizer = pipeline.summarizer
    if summarizer is not None and hasattr(summarizer, "generate"):
        pipeline.summarizer = _one(SharedSummarizer, summarizer, window)
    return pipeline


_SHARED: dict[tuple, object] = {}  # one shared front per model object: its worker is its line
_SHARED_LOCK = threading.Lock()


def _one(cls, inner, window: float):
    """The one `cls` in front of `inner` (the model objects live as long as the process)."""
    with _SHARED_LOCK:
        key = (cls.__name__, id(inner), window)
        if key not in _SHARED:
            _SHARED[key] = cls(inner, window)
        return _SHARED[key]
