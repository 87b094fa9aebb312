"""`khulasa bench load`: many readers at once against a server it starts, per engine.

For each engine and each number of readers, a fresh `khulasa serve` process on loopback, on
replicas (full size by default: real architectures, random weights, forced output lengths, the
summariser reading the team's reference English, the checks off: as `khulasa bench`'s end to
end), and N simulated readers for a fixed time. Each reader submits whole articles (the sample
and the coverage set's Arabic reports, in turn), one after another: even readers through the
page's API (its stream: the time to the first translated sentence is seen there), odd readers
through REST `/summarize`. An article still running at the end is waited for and counted.

Reported per engine and readers: articles per minute, first-sentence latency p50/p95 (page
readers), whole-article latency p50/p95 (both doors), refusals (server busy) and errors.

Engines:
- `today`: one model job at a time, each with its own batches (`--concurrency 1
  --batch-window 0`, the design before batching across readers);
- `batched`: jobs run together and their sentences share model rounds (`--concurrency 8
  --batch-window 10`, the default);
- `ray-1`, `ray-2`: the models as Ray Serve deployments with 1 or 2 replicas each.

    khulasa bench load --readers 1 4 8 --seconds 90 --json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .replicas import DATA_DIR, SUMMARY_TOKENS, forced_length, replica, say

ENGINES = {
    "today": ["--concurrency", "1", "--batch-window", "0"],
    "batched": ["--concurrency", "8", "--batch-window", "10"],
    "ray-1": ["--engine", "ray", "--ray-replicas", "1", "--concurrency", "8"],
    "ray-2": ["--engine", "ray", "--ray-replicas", "2", "--concurrency", "8"],
}
TRANSLATOR, SUMMARIZER = "opus-mt-tc-big", "distilbart-cnn"
ARTICLE_TIMEOUT = 600  # seconds one article may take before it counts as an error
REFERENCE = (DATA_DIR / "brussels.sent.en").read_text(encoding="utf-8").splitlines()


def articles() -> list[str]:
    """The shipped articles: the sample, and each Arabic report of the coverage set."""
    out = [(DATA_DIR / "brussels_ar.txt").read_text(encoding="utf-8")]
    for name in ("added.sent.ar", "unrelated.sent.ar"):
        lines = (DATA_DIR / "coverage" / name).read_text(encoding="utf-8").splitlines()
        out.append("\n\n".join(line for line in lines if line.strip()))
    return out


class ReferenceEnglish:
    """A summariser given the team's reference English, sentence for sentence (cycling), in
    place of a random-weight translator's filler: a real translation's length."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def summarize(self, segments, sentences=None):
        english = [(i, REFERENCE[k % len(REFERENCE)]) for k, (i, _) in enumerate(segments)]
        return self.inner.summarize(english, sentences)


def _innermost(obj):
    while hasattr(obj, "inner"):
        obj = obj.inner
    return obj


def prepare(obj):
    """The bench's forced lengths, on what a server builds: a Pipeline (the front: checks
    off, its models' lengths forced, its summariser given reference English unless the
    summaries are made by Ray replicas), or a Ray replica's translator or summariser."""
    from ..models.pipeline import Pipeline

    if isinstance(obj, Pipeline):
        obj.checks = False  # random words fail every check: each sentence would be retried
        obj.translator = prepare(obj.translator)
        if obj.summarizer is not None and not hasattr(obj.summarizer, "handle"):
            obj.summarizer = prepare(obj.summarizer)
        return obj
    model = _innermost(obj)
    if hasattr(model, "length_rule"):  # a translator
        model.length_rule = forced_length
        return obj
    if hasattr(model, "output_limit"):  # an abstractive summariser
        model.output_limit = SUMMARY_TOKENS + 2
        return ReferenceEnglish(obj)
    return obj


def serve_child(argv: list[str]) -> int:
    """The server of one measurement: `khulasa serve`'s options, with `prepare` applied."""
    from ..serve import cli
    from ..serve.launch import launch
    from ..serve.service import ModelPool

    parser = cli.build_parser()
    args = cli.parse(parser, ["serve", *argv])

    def run(options):
        return launch(options, ModelPool(options, setup=prepare))

    from ..serve import launch as launch_module

    original = launch_module.launch
    launch_module.launch = run
    try:
        return args.run(args)
    finally:
        launch_module.launch = original


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(engine: str, size: str, root: Path | None) -> tuple[subprocess.Popen, str]:
    translator = str(replica(TRANSLATOR, root, size))
    summarizer = str(replica(SUMMARIZER, root, size))
    port = _free_port()
    cmd = [sys.executable, "-m", "khulasa.eval.bench_load", "--serve-child", "--port", str(port),
           "--translator", translator, "--summarizer", summarizer, "--beams", "4",
           "--queue-size", "32", *ENGINES[engine]]  # fmt: skip
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"khulasa-bench-load-{engine}.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the {engine} server stopped (exit {proc.returncode}): {log.name}")
        try:
            with urllib.request.urlopen(url + "health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except (OSError, urllib.error.URLError):
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the {engine} server did not start in 600 s: {log.name}")


def _rest_article(url: str, text: str) -> tuple[str, float]:
    body = json.dumps({"q": text, "source": "ar"}).encode()
    req = urllib.request.Request(url + "summarize", body, {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=ARTICLE_TIMEOUT) as resp:
            resp.read()
            return "ok", time.perf_counter() - t0
    except urllib.error.HTTPError as err:
        err.read()
        return ("busy" if err.code == 503 else "error"), time.perf_counter() - t0
    except OSError:
        return "error", time.perf_counter() - t0


def _page_article(client, text: str, models: tuple[str, str]) -> tuple[str, float, float | None]:
    """One article through the page's API (its stream), with the server's own `models` (their
    public names, as the page offers them); (outcome, seconds, first sentence)."""
    t0 = time.perf_counter()
    first = None
    last = None
    try:
        job = client.submit(text, None, "", *models, 0, 3, "", api_name="/translate_page")
        for out in job:
            html = out[1] if isinstance(out, (list, tuple)) and len(out) > 1 else ""
            if first is None and isinstance(html, str) and "kh-seg kh-en" in html:
                if html.count("kh-pending") < html.count('class="kh-seg kh-en"'):
                    first = time.perf_counter() - t0
            last = out
        job.result(timeout=ARTICLE_TIMEOUT)
    except Exception as exc:  # the page's busy answer is a message in its status
        return ("busy" if "busy" in str(exc).lower() else "error"), time.perf_counter() - t0, None
    status = last[0] if isinstance(last, (list, tuple)) and last else ""
    if isinstance(status, str) and "busy" in status.lower():
        return "busy", time.perf_counter() - t0, None
    if not isinstance(status, str) or "kh-error" in status:
        return "error", time.perf_counter() - t0, None
    return "ok", time.perf_counter() - t0, first


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[k], 2)


def measure(url: str, readers: int, seconds: float) -> dict:
    """`readers` readers for `seconds` (articles under way at the end are waited for)."""
    from gradio_client import Client

    with urllib.request.urlopen(url + "health", timeout=10) as r:
        health = json.loads(r.read())
    models = (health["translator"], health["summarizer"])

    texts = articles()
    lock = threading.Lock()
    outcomes: dict[str, int] = {"ok": 0, "busy": 0, "error": 0}
    whole: list[float] = []
    firsts: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    def reader(k: int) -> None:
        client = Client(url, verbose=False) if k % 2 == 0 else None
        n = k
        while time.perf_counter() < deadline:
            text = texts[n % len(texts)]
            n += 1
            if client is not None:
                outcome, sec, first = _page_article(client, text, models)
            else:
                (outcome, sec), first = _rest_article(url, text), None
            with lock:
                outcomes[outcome] += 1
                if outcome == "ok":
                    whole.append(sec)
                    if first is not None:
                        firsts.append(first)
            if outcome == "busy":
                time.sleep(1)

    threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + ARTICLE_TIMEOUT)
    wall = time.perf_counter() - started
    return {
        "readers": readers,
        "seconds": round(wall, 1),
        "articles": outcomes["ok"],
        "articles_per_minute": round(outcomes["ok"] * 60 / wall, 2),
        "first_sentence_p50": _quantile(firsts, 0.5),
        "first_sentence_p95": _quantile(firsts, 0.95),
        "article_p50": _quantile(whole, 0.5),
        "article_p95": _quantile(whole, 0.95),
        "busy": outcomes["busy"],
        "errors": outcomes["error"],
    }


def run(engines: list[str], readers: list[int], seconds: float, size: str = "full",
        root: Path | None = None) -> dict:  # fmt: skip
    rows = []
    for engine in engines:
        for n in readers:
            say(f"load: {engine}, {n} readers, {seconds:.0f} s (a fresh server)")
            proc, url = start_server(engine, size, root)
            try:
                measure(url, 1, 0)  # warm-up: one article, conversions and caches
                row = {"engine": engine, **measure(url, n, seconds)}
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            say(f"  {row['articles_per_minute']} articles/min, first p95 "
                f"{row['first_sentence_p95']} s, article p95 {row['article_p95']} s")  # fmt: skip
            rows.append(row)
    return {
        "cores": os.cpu_count(),
        "size": size,
        "translator": TRANSLATOR,
        "summarizer": SUMMARIZER,
        "beams": 4,
        "engines": {e: " ".join(ENGINES[e]) for e in engines},
        "rows": rows,
        "weights": f"{size} replicas, random weights, forced output lengths",
    }


def table(result: dict) -> str:
    head = (f"{'engine':8s} {'readers':>7s} {'art/min':>8s} {'first p50':>9s} {'first p95':>9s} "
            f"{'art p50':>8s} {'art p95':>8s} {'busy':>5s} {'errors':>6s}")  # fmt: skip
    lines = [head]
    for r in result["rows"]:
        lines.append(
            f"{r['engine']:8s} {r['readers']:7d} {r['articles_per_minute']:8.2f} "
            f"{_s(r['first_sentence_p50']):>9s} {_s(r['first_sentence_p95']):>9s} "
            f"{_s(r['article_p50']):>8s} {_s(r['article_p95']):>8s} {r['busy']:5d} "
            f"{r['errors']:6d}"
        )
    return "\n".join(lines)


def _s(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def add_options(parser) -> None:
    parser.add_argument(
        "--readers",
        type=int,
        nargs="+",
        default=[1, 4, 8],
        metavar="N",
        help="load: simulated readers, one measurement each (default: 1 4 8)",
    )
    parser.add_argument("--seconds", type=float, default=90, metavar="S",
                        help="load: how long readers submit articles, each measurement "
                        "(default: 90)")  # fmt: skip
    parser.add_argument("--engines", nargs="+", choices=list(ENGINES), default=list(ENGINES),
                        help="load: the engines compared (default: all)")  # fmt: skip


def run_args(args) -> int:
    if not all(1 <= n <= 64 for n in args.readers) or not 0 < args.seconds <= 3600:
        from ..models.errors import OptionError

        raise OptionError("--readers must be 1 to 64 and --seconds above 0, at most 3600.")
    result = run(args.engines, args.readers, args.seconds, args.size, args.replica_root)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-child":
        sys.exit(serve_child(sys.argv[2:]))
    print("use: khulasa bench load --help", file=sys.stderr)
    sys.exit(2)
