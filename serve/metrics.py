"""`/metrics`: what an operator watches, in Prometheus' text format (`prometheus-client`).

One registry per server (a process may run several, as the tests do), so nothing is global:

- `khulasa_requests_total{door, status}`: every HTTP request, by door (a REST route, the
  page's API, uploads, the page itself, static files, metrics) and answer status;
- `khulasa_jobs_running`, `khulasa_jobs_waiting`: model jobs holding a slot, and in line
  (read from the gate when scraped);
- `khulasa_sentences_translated_total`: sentences of finished documents (`rate()` of it is
  sentences per second);
- `khulasa_first_sentence_seconds`, `khulasa_article_seconds`: histograms of the time to a
  page run's first translated sentence, and to a whole document, by door;
- `khulasa_reading_errors_total{code}`: inputs refused or unreadable, by the one way in's code;
- `khulasa_shared_rounds_total`, `khulasa_shared_mixed_rounds_total`: model rounds of the
  shared batches, and those that held more than one job's sentences (batching across
  readers at work).

On a keyed server the route needs a key, as every door: `Authorization: Bearer KEY` (what
Prometheus' `authorization` setting sends) or `?api_key=KEY`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
REST_DOORS = frozenset({"/translate", "/translate_file", "/detect", "/summarize", "/digest",
                        "/suggest", "/languages", "/frontend/settings", "/health", "/spec",
                        "/metrics"})  # fmt: skip


def door_of(path: str) -> str:
    """A request's door, from a fixed set (a label may not take any value a client sends)."""
    path = path.rstrip("/") or "/"
    if path in REST_DOORS:
        return path.lstrip("/")
    if path.startswith("/download_file/"):
        return "download_file"
    if path.endswith("/upload"):
        return "upload"
    if "/gradio_api/" in path:
        return "page_api"
    if path.startswith(("/khulasa-static/", "/assets/", "/static/")) or "/file=" in path:
        return "static"
    return "page"


class Metrics:
    """The server's metrics and its registry; `gate` and `shared` are read when scraped."""

    def __init__(self, gate=None, shared=None):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("khulasa_requests", "HTTP requests by door and status",
                                ["door", "status"], registry=r)  # fmt: skip
        self.sentences = Counter("khulasa_sentences_translated",
                                 "Sentences of finished documents", registry=r)  # fmt: skip
        self.first_sentence = Histogram(
            "khulasa_first_sentence_seconds", "Time to a page run's first translated sentence",
            ["door"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.article = Histogram(
            "khulasa_article_seconds", "Time to a whole document (waiting included)",
            ["door"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.reading_errors = Counter("khulasa_reading_errors",
                                      "Inputs refused or unreadable, by code", ["code"],
                                      registry=r)  # fmt: skip
        self.gate, self.shared = gate, shared or (lambda: [])
        r.register(_Live(self))

    def request(self, door: str, status: int) -> None:
        self.requests.labels(door, str(status)).inc()

    def finished(self, door: str, doc, seconds: float) -> None:
        self.sentences.inc(len(doc.segments))
        self.article.labels(door).observe(seconds)

    def refused(self, code: str | None) -> None:
        if code:
            self.reading_errors.labels(code).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _Live:
    """The figures read when scraped: the gate's line and the shared batches' rounds."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def describe(self):
        return []

    def collect(self):
        gate = self.metrics.gate
        running = GaugeMetricFamily("khulasa_jobs_running", "Model jobs holding a slot")
        waiting = GaugeMetricFamily("khulasa_jobs_waiting", "Model jobs waiting for a slot")
        run = gate.running() if gate is not None else 0
        running.add_metric([], run)
        waiting.add_metric([], (gate.load() - run) if gate is not None else 0)
        yield running
        yield waiting
        rounds = CounterMetricFamily("khulasa_shared_rounds", "Model rounds of shared batches")
        mixed = CounterMetricFamily(
            "khulasa_shared_mixed_rounds", "Shared rounds holding more than one job's sentences"
        )
        fronts = list(self.metrics.shared())
        rounds.add_metric([], sum(getattr(f, "rounds", 0) for f in fronts))
        mixed.add_metric([], sum(getattr(f, "mixed", 0) for f in fronts))
        yield rounds
        yield mixed


class CountRequests:
    """ASGI middleware, outermost: every HTTP request's door and status into `metrics`."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 0

        async def watched(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            self.metrics.request(door_of(scope.get("path", "")), status or 500)
