"""A bounded load test of a running khulasa server on loopback: `clients` concurrent clients,
each sending `requests` POST /translate calls, each with a timeout. Every answer must be 200 or
a documented 429/503; reports requests/s and p50/p95 latency.

    python -m khulasa.eval.load_test http://127.0.0.1:7860/ --clients 50 --requests 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

TEXT = "قال وزير الخارجية الأمركي جون كيري في ختام مؤتمر لدول التحالف في بروكسل."


def _post(url: str, payload: dict, timeout: float) -> tuple[int, float]:
    body = json.dumps(payload).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status, time.perf_counter() - t0
    except urllib.error.HTTPError as err:
        err.read()
        return err.code, time.perf_counter() - t0
    except (TimeoutError, urllib.error.URLError):
        return -1, time.perf_counter() - t0  # hung or refused: counted as lost


def run(base: str, clients: int = 50, requests: int = 3, timeout: float = 120.0) -> dict:
    host = urlparse(base).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load tests run on loopback only, not {host}")
    url = base.rstrip("/") + "/translate"
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(requests):
            status, seconds = _post(
                url, {"q": f"{TEXT} {k}-{i}", "source": "ar", "target": "en"}, timeout
            )
            with lock:
                results.append((status, seconds))

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * requests + 30)
    wall = time.perf_counter() - started
    ok = sorted(s for code, s in results if code == 200)
    codes: dict[str, int] = {}
    for code, _ in results:
        codes[str(code)] = codes.get(str(code), 0) + 1
    q = statistics.quantiles(ok, n=20) if len(ok) >= 2 else [ok[0]] * 19 if ok else [0.0] * 19
    return {
        "clients": clients,
        "requests_each": requests,
        "sent": clients * requests,
        "answered": len(results),
        "codes": codes,
        "seconds": round(wall, 2),
        "requests_per_s": round(len(results) / wall, 2),
        "ok_per_s": round(len(ok) / wall, 2),
        "p50_ms": round(statistics.median(ok) * 1000) if ok else None,
        "p95_ms": round(q[18] * 1000) if ok else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    print(json.dumps(run(args.url, args.clients, args.requests, args.timeout), indent=2))
