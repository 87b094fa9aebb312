"""`khulasa serve --engine ray`: the model tier on Ray Serve, the page and REST in front.

Two deployments hold the models: `Translator` (one sentence a request; Ray Serve's own
`@serve.batch` merges the sentences of every reader, every front process, into one model
batch, as `--batch-window` does in one process) and `Summarizer` (one document a request).
Their replicas run on a local Ray instance started for the server, or on a cluster
(`--ray-address`); `--ray-replicas` and `--ray-max-replicas` set their count and autoscaling.

The front keeps everything else: segmentation, the checks, second tries, the sentence memory,
the doors and their limits. It needs only the translator's tokenizer (to cut a sentence over
the model's source limit), never its weights.

A replica that dies mid-article (killed, out of memory, its node lost) loses nothing: each
sentence is its own request, kept by its index until answered, and one whose replica died is
sent again (at most RETRIES times) to a live one; an answer is taken once per index, so no
sentence is doubled or lost. When the deployments' line is full (`max_queued_requests`), the
reader gets the same "Server busy" answer as the gate's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time

from ray import serve

from ..models.document import SummarySentence
from ..models.errors import Busy, KhulasaError, ModelLoadError
from ..models.interface import Translation, collect
from ..models.options import ModelOptions

log = logging.getLogger("khulasa.serve")
BATCH = 32  # sentences in one Translator batch, at most
RETRIES = 5  # sends of one sentence (or one summary) before its job fails
RETRY_PAUSE = 0.5  # seconds between sends: Serve learns a replica died within a second or two
ANSWER_TIMEOUT = 600  # seconds one request may take, at most
QUEUED_PER_JOB = 64  # requests a front may queue for a deployment, per job in its line


@serve.deployment(name="Translator")
class TranslatorReplica:
    """One replica of the translator: batches of sentences, whoever sent them."""

    def __init__(self, options: ModelOptions, window: float, setup=None):
        from ..models.factory import build_translator

        self.translator = build_translator(options)
        if setup is not None:
            self.translator = setup(self.translator)
        self.translate.set_batch_wait_timeout_s(window)

    def settings(self) -> dict:
        return dict(self.translator.settings)

    def pid(self) -> int:
        return os.getpid()

    @serve.batch(max_batch_size=BATCH, batch_wait_timeout_s=0.01)
    async def translate(self, requests: list[tuple[str, int, bool]]) -> list[tuple]:
        """(hypotheses, scores) for each (sentence, n, retry), in one model round per kind."""
        out: list[tuple | None] = [None] * len(requests)
        kinds: dict[tuple[int, bool], list[int]] = {}
        for i, (_, n, retry) in enumerate(requests):
            kinds.setdefault((n, retry), []).append(i)
        for (n, retry), where in kinds.items():
            texts = [requests[i][0] for i in where]
            results = await asyncio.to_thread(self._run, texts, n, retry)
            for r in results:
                out[where[r.index]] = (list(r.hypotheses), list(r.scores))
        return out

    def _run(self, texts: list[str], n: int, retry: bool) -> list[Translation]:
        return [r for batch in self.translator.translate_iter(texts, n, None, retry) for r in batch]


@serve.deployment(name="Summarizer")
class SummarizerReplica:
    """One replica of the abstractive summariser: a document's key points a request."""

    def __init__(self, options: ModelOptions, setup=None):
        from ..models.factory import build_summarizer

        self.summarizer = build_summarizer(options)
        if setup is not None:
            self.summarizer = setup(self.summarizer)

    def settings(self) -> dict:
        return dict(self.summarizer.settings)

    def pid(self) -> int:
        return os.getpid()

    def summarize(self, segments: list[tuple[int, str]], sentences: int | None) -> list[tuple]:
        points = self.summarizer.summarize(segments, sentences)
        return [(s.text, s.sources, s.flags) for s in points]


def _lost(exc: Exception) -> bool:
    """Whether `exc` says the replica went away (so the request may be sent again)."""
    import ray.exceptions as rx
    from ray.serve.exceptions import DeploymentUnavailableError

    return isinstance(exc, (rx.RayActorError, rx.ActorUnavailableError, rx.WorkerCrashedError,
                            rx.NodeDiedError, DeploymentUnavailableError))  # fmt: skip


def _answer(send, what: str):
    """The answer to `send()` (a DeploymentResponse factory), sent again while replicas are
    lost; Busy when the deployment's line is full."""
    from ray.serve.exceptions import BackPressureError

    for attempt in range(1, RETRIES + 1):
        try:
            return send().result(timeout_s=ANSWER_TIMEOUT)
        except BackPressureError:
            raise Busy("Server busy: the model tier's line is full. Retry in a minute.") from None
        except Exception as exc:
            if not _lost(exc) or attempt == RETRIES:
                raise KhulasaError(
                    f"The model tier could not answer {what} ({type(exc).__name__}). Retry; "
                    "the server log has the details."
                ) from exc
            log.warning("a replica was lost answering %s (%s); sending it again", what,
                        type(exc).__name__)  # fmt: skip
            time.sleep(RETRY_PAUSE)


class RayTranslator:
    """The front's translator: each sentence a request to the `Translator` deployment (all
    sent at once, so its batches fill), answered in reading order; a lost one sent again."""

    def __init__(self, handle, settings: dict, local, window: float = 0.01):
        self.handle = handle
        self.window = window  # the deployment's batch wait
        self._settings = settings
        self.local = local  # the tokenizer side of the translator (no weights): pieces
        self.backend = settings.get("backend", "ray")
        self.sent = 0  # requests sent, sent again included
        self.resent = 0  # sentences sent again because their replica was lost

    @property
    def settings(self) -> dict:
        return self._settings

    def count_tokens(self, text: str) -> int:
        return self.local.count_tokens(text)

    def pieces(self, sentence: str) -> list[str]:
        return self.local.pieces(sentence)

    def _send(self, text: str, n: int, retry: bool):
        def send():
            self.sent += 1
            return self.handle.translate.remote((text, n, retry))

        return send

    def translate_iter(self, texts, n: int = 1, first_batch=None, retry: bool = False):
        sends = [_Resend(self._send(t, n, retry)) for t in texts]
        heads = min(first_batch or 0, len(sends))
        for send in sends[:heads]:  # a watched stream's first sentences: a batch of their own
            send.first = send.send()
        if heads:
            time.sleep(2 * self.window)  # past the batch's wait: the rest is another batch
        for send in sends[heads:]:  # then all at once: the deployment's batches fill
            send.first = send.send()
        for i, send in enumerate(sends):
            hypotheses, scores = _answer(send, "a sentence")
            self.resent += send.sends - 1
            yield [Translation(i, tuple(hypotheses), scores=tuple(scores))]

    def translate(self, texts: list[str]) -> list[str]:
        return [h[0] for h in collect(self, texts)]


class _Resend:
    """`send` that gives the response already sent the first time, a new request after."""

    def __init__(self, send):
        self.first, self.send = None, send
        self.sends = 0  # requests this sentence took (more than 1: its replica was lost)

    def __call__(self):
        self.sends += 1
        if self.first is not None:
            first, self.first = self.first, None
            return first
        return self.send()


class RaySummarizer:
    """The front's abstractive summariser: one request a document to `Summarizer`."""

    mode = "abstractive"

    def __init__(self, handle, settings: dict):
        self.handle, self.settings = handle, settings
        self.name = settings.get("model", "summarizer")

    def summarize(self, segments, sentences: int | None = None) -> list[SummarySentence]:
        answer = _answer(
            lambda: self.handle.summarize.remote(list(segments), sentences), "a summary"
        )
        return [SummarySentence(text, list(src), list(flags)) for text, src, flags in answer]


_LOCK = threading.Lock()
_STARTED: dict[str, bool] = {}  # whether this process started the Ray instance it uses


def _app_name(kind: str, options: ModelOptions) -> str:
    spec = options.translator if kind == "translator" else options.summarizer
    key = f"{spec}|{options.beams}|{options.backend}|{options.compute_type}|{options.device}"
    return f"khulasa-{kind}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _start_ray(serve_options) -> None:
    import ray

    if ray.is_initialized():
        return
    replicas = max(serve_options.ray_replicas, serve_options.ray_max_replicas)
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    if serve_options.ray_address:
        ray.init(address=serve_options.ray_address, **kwargs)
        _STARTED["local"] = False
    else:  # a local instance: room for every replica (translator and summariser), 1 CPU each
        ray.init(num_cpus=max(os.cpu_count() or 1, 2 * replicas), **kwargs)
        _STARTED["local"] = True
    serve.start(proxy_location="Disabled")  # handles only: the page and REST are the front


def _scaling(serve_options) -> dict:
    if serve_options.ray_max_replicas:
        return {"autoscaling_config": {"min_replicas": serve_options.ray_replicas,
                                       "max_replicas": serve_options.ray_max_replicas,
                                       "target_ongoing_requests": BATCH}}  # fmt: skip
    return {"num_replicas": serve_options.ray_replicas}


def ray_pipeline(options: ModelOptions, serve_options, setup=None):
    """A Pipeline whose models are Ray Serve deployments (started here when not running)."""
    from ..models.factory import build_pipeline, locate
    from ..models.loading import load_seq2seq
    from ..models.translate import TorchTranslator

    located = locate(options)  # a missing model fails here, before Ray starts
    window = serve_options.batch_window / 1000 or 0.01
    queued = max(1, serve_options.queue_size + serve_options.concurrency) * QUEUED_PER_JOB
    common = dict(ray_actor_options={"num_cpus": 1}, max_queued_requests=queued,
                  max_ongoing_requests=2 * BATCH, **_scaling(serve_options))  # fmt: skip
    with _LOCK:
        _start_ray(serve_options)
        try:
            translator_app = TranslatorReplica.options(**common).bind(
                options.with_(summarizer="none"), window, setup
            )
            t_handle = serve.run(translator_app, name=_app_name("translator", options),
                                 route_prefix=None)  # fmt: skip
            t_settings = t_handle.settings.remote().result(timeout_s=ANSWER_TIMEOUT)
            s_handle = s_settings = None
            if options.summarizer not in ("none", "extractive"):
                summarizer_app = SummarizerReplica.options(**common).bind(options, setup)
                s_handle = serve.run(summarizer_app, name=_app_name("summarizer", options),
                                     route_prefix=None)  # fmt: skip
                s_settings = s_handle.settings.remote().result(timeout_s=ANSWER_TIMEOUT)
        except Exception as exc:
            raise ModelLoadError(
                f"The Ray Serve deployments did not start: {exc}. Fix: check the models load "
                "with --engine local, and the cluster (--ray-address) has free CPUs."
            ) from exc
    ref, path = located["translator"]
    local = TorchTranslator(load_seq2seq(ref, path, "cpu", weights=False), beams=options.beams)

    def make(kind, model_options, _located):
        if kind == "translator":
            return RayTranslator(t_handle, t_settings, local, window)
        return RaySummarizer(s_handle, s_settings) if s_handle is not None else None

    return build_pipeline(options, mark_memory=False, located=located, make=make)


def replica_pids(front, tries: int = 40) -> set[int]:
    """The process ids of the replicas behind `front` (a RayTranslator or RaySummarizer), as
    many as answer in `tries` calls."""
    found: set[int] = set()
    for _ in range(tries):
        found.add(front.handle.pid.remote().result(timeout_s=60))
    return found


def shutdown() -> None:
    """Stop the deployments, and the Ray instance when this process started it."""
    import ray

    with _LOCK:
        if not ray.is_initialized():
            return
        try:
            serve.shutdown()
        finally:
            if _STARTED.pop("local", False):
                ray.shutdown()
