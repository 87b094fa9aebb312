"""What every door of the server shares, whatever it serves: the one limit on model jobs (the
gate), API keys, and every per-client limit on one limiter (`limits`). The page, the page API
and REST take their turn here through the same `Gate.job()`, so one line of jobs holds for
all of them.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import TYPE_CHECKING

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..models.errors import Busy, KhulasaError, OptionError

if TYPE_CHECKING:
    from .service import ServeOptions


__all__ = ["Busy", "Gate", "Guard", "Limits", "RateLimiter", "Refused"]

WRONG_KEYS = 5  # wrong keys from one address ...
WRONG_KEY_MINUTES = 10  # ... in this many minutes lock it out (429) until the oldest expires
UPLOADS_PER_MINUTE = 30  # Gradio's upload route, per address, whatever --req-limit says
SUGGESTIONS_PER_HOUR = 20  # readers' corrections one address may make in an hour
PROVEN_KEPT = 10_000  # (address, key) pairs remembered as proven, the oldest forgotten first


class Gate:
    """One limit on model jobs for every door: at most `concurrency` run at once and at most
    `queue_size` wait; the (concurrency + queue_size + 1)-th job, from any door, is refused at
    once. Each door's handler takes its turn with `job()` (Gradio's own queue does not limit
    the page's events: launch gives it no concurrency limit)."""

    def __init__(self, concurrency: int, queue_size: int):
        self.concurrency = concurrency
        self.queue_size = queue_size
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._jobs = 0  # jobs running or waiting, every door together
        self._running = 0  # jobs holding a slot
        self.metrics = None  # the server's figures (metrics.Metrics), when it keeps them

    def load(self) -> int:
        return self._jobs

    def running(self) -> int:
        return self._running

    def finished(self, door: str, doc, seconds: float) -> None:
        """A document done at `door` in `seconds` (counted in /metrics)."""
        if self.metrics is not None:
            self.metrics.finished(door, doc, seconds)

    def first_sentence(self, door: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.first_sentence.labels(door).observe(seconds)

    def refused(self, code: str | None) -> None:
        """An input refused or unreadable, by its code (counted in /metrics)."""
        if self.metrics is not None:
            self.metrics.refused(code)

    def full(self) -> bool:
        return self.load() >= self.concurrency + self.queue_size

    def describe(self) -> str:
        return (
            f"Server busy: the line is full ({self.load()} jobs are running or waiting; at "
            f"most {self.concurrency} at once and {self.queue_size} waiting). Retry in a "
            f"minute."
        )

    @contextmanager
    def job(self):
        """A model job's turn: Busy at once when the line is full, else wait for a slot."""
        with self._lock:
            if self.full():
                raise Busy(self.describe())
            self._jobs += 1
        try:
            self._slots.acquire()
            with self._lock:
                self._running += 1
            try:
                yield
            finally:
                with self._lock:
                    self._running -= 1
                self._slots.release()
        finally:
            with self._lock:
                self._jobs -= 1


class Refused(KhulasaError):
    """A door refuses the request: `status` (403 a wrong key, 429 too many) and, for 429,
    `retry_after` seconds."""

    def __init__(self, message: str, status: int, code: str, retry_after: int = 0):
        super().__init__(message)
        self.status, self.code, self.retry_after = status, code, retry_after


class Limits:
    """Every count the server keeps per client, on one limiter: the `limits` package (which
    Flask-Limiter and slowapi use), moving windows in its memory storage, whose entries
    expire by themselves."""

    def __init__(self, storage: str = "memory://"):
        try:
            self.storage = storage_from_string(storage)
        except Exception as exc:  # a scheme limits does not know, or a client not installed
            raise OptionError(
                f"--limits-storage {storage!r}: {exc}. Fix: memory:// (this process only) or "
                "redis://HOST:PORT (shared by every front process; pip install redis)."
            ) from None
        if storage.startswith(("redis://", "rediss://", "redis+unix://")):
            try:
                self.storage.check() or _unreachable(storage)
            except OptionError:
                raise
            except Exception:
                _unreachable(storage)
        self.window = MovingWindowRateLimiter(self.storage)

    def hit(self, item: RateLimitItem, *key: str) -> bool:
        return self.window.hit(item, *key)

    def test(self, item: RateLimitItem, *key: str) -> bool:
        return self.window.test(item, *key)

    def retry_after(self, item: RateLimitItem, *key: str) -> int:
        """Whole seconds until `key` may be counted again under `item` (at least 1)."""
        reset = self.window.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))


def _unreachable(storage: str):
    raise OptionError(
        f"--limits-storage {storage}: no Redis server answers there. Fix: start it "
        "(redis-server), or check the address."
    )


class RateLimiter:
    """At most `count` per `minutes` minutes per client, on `limits` (0: no limit)."""

    def __init__(self, count: int, name: str, limits: Limits, minutes: int = 1):
        self.count, self.name, self.limits = count, name, limits
        self.item = RateLimitItemPerMinute(count, minutes) if count > 0 else None
        self.per = "minute" if minutes == 1 else f"{minutes} minutes"

    def allow(self, client: str) -> bool:
        return self.item is None or self.limits.hit(self.item, self.name, client)

    def retry_after(self, client: str) -> int:
        return self.limits.retry_after(self.item, self.name, client) if self.item else 0

    def refusal(self) -> str:
        return f"Too many requests: the limit is {self.count} per {self.per}. Retry later."


def key_id(key: str | None) -> str | None:
    """What is kept of an API key: enough to tell keys apart, not the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:12] if isinstance(key, str) else None


class Guard:
    """API keys and every per-client limit, the same for every door: the request rate
    (`--req-limit`), uploads, readers' corrections, and wrong keys. After WRONG_KEYS wrong
    keys in WRONG_KEY_MINUTES from one address, key attempts from it get 429 on every door,
    except with a key already proven from that address (OWASP's device-cookie idea: a
    colleague behind the same NAT who was already working keeps working)."""

    def __init__(self, options: ServeOptions, limits: Limits | None = None):
        self.keys = options.api_keys
        self.limits = limits or Limits(options.limits_storage)
        self.limiter = RateLimiter(options.req_limit, "request", self.limits)
        self.uploads = RateLimiter(UPLOADS_PER_MINUTE, "upload", self.limits)
        self.suggestions = RateLimiter(SUGGESTIONS_PER_HOUR, "suggestion", self.limits, 60)
        self.wrong = RateLimitItemPerMinute(WRONG_KEYS, WRONG_KEY_MINUTES)
        self._proven: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._logins: dict[str, str] = {}  # page login name -> its one key
        self._lock = threading.Lock()

    def key_ok(self, key) -> bool:
        return self.keys is None or (isinstance(key, str) and key in self.keys)

    def locked(self, client: str) -> int:
        """Seconds until `client` may try a key again (0: now)."""
        if self.keys is None or self.limits.test(self.wrong, "wrong_key", client):
            return 0
        return self.limits.retry_after(self.wrong, "wrong_key", client)

    def vouched(self, client: str) -> bool:
        """Whether some key was proven from `client` (then its requests are let through to
        the door, which checks that key)."""
        with self._lock:
            return any(c == client for c, _ in self._proven)

    def check_key(self, client: str, key) -> None:
        """Nothing for a good key; Refused otherwise: 429 while `client` is locked out (unless
        this key was proven from it before), 403 for a wrong key, which counts."""
        if self.keys is None:
            return
        ok = self.key_ok(key)
        proof = (client, key_id(key) or "")
        with self._lock:
            if ok and proof in self._proven:
                self._proven.move_to_end(proof)
                return
        wait = self.locked(client)
        if wait:
            raise Refused(
                f"Too many wrong keys from this address: try again in {wait} s.",
                429, "too_many_wrong_keys", wait,
            )  # fmt: skip
        if ok:
            with self._lock:
                self._proven[proof] = time.time()
                while len(self._proven) > PROVEN_KEPT:
                    self._proven.popitem(last=False)
            return
        self.limits.hit(self.wrong, "wrong_key", client)
        raise Refused(
            "Invalid API key"
            if key
            else "Visit the server's administrator to obtain an API key (the api_key "
            "parameter is required)",
            403, "invalid_key",
        )  # fmt: skip

    def wrong_key(self, client: str) -> None:
        """A wrong key (or none) seen at a door this guard does not answer itself."""
        if self.keys is not None:
            self.limits.hit(self.wrong, "wrong_key", client)

    def login(self, username: str, password: str) -> bool:
        """The page's login (Gradio auth): any name, an API key as the password (the door
        guard has counted it and checked the lockout). A name is kept for the one key it
        first logged in with, so a reader's corrections carry that reader's own key id."""
        if not self.key_ok(password):
            return False
        with self._lock:
            bound = self._logins.setdefault(username, password)
        return bound == password

    def key_of(self, username: str | None) -> str | None:
        with self._lock:
            return self._logins.get(username) if username else None
