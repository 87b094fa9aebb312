"""What every door of the server shares, whatever it serves: the one limit on model jobs (the
gate), API keys and the request rate per client. The page, the page API and REST take their
turn here through the same `Gate.job()`, so one line of jobs holds for all of them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..models.errors import KhulasaError

if TYPE_CHECKING:
    from .service import ServeOptions


class Busy(KhulasaError):
    """Every model slot is taken and the waiting line is full."""

    code = "busy"


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

    def load(self) -> int:
        return self._jobs

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
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._jobs -= 1


class RateLimiter:
    """Requests per minute per client address over a sliding minute, for every door. Entries
    expire: memory holds only the clients seen in the last minute."""

    def __init__(self, per_minute: int, window: float = 60.0, clock=time.monotonic):
        self.per_minute = per_minute
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._seen)

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = self.clock()
        with self._lock:
            if now >= self._next_sweep:  # drop clients idle for a whole window
                self._seen = {c: q for c, q in self._seen.items() if now - q[-1] <= self.window}
                self._next_sweep = now + self.window / 4
            seen = self._seen.setdefault(client, deque())
            while seen and now - seen[0] > self.window:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return False
            seen.append(now)
            return True

    def refusal(self) -> str:
        return f"Too many requests: the limit is {self.per_minute} per minute. Retry later."


class Guard:
    """API keys and request rate, the same for every door."""

    def __init__(self, options: ServeOptions):
        self.keys = options.api_keys
        self.limiter = RateLimiter(options.req_limit)
        self._logins: dict[str, str] = {}  # page login name -> the key it last gave
        self._lock = threading.Lock()

    def key_ok(self, key) -> bool:
        return self.keys is None or (isinstance(key, str) and key in self.keys)

    def login(self, username: str, password: str) -> bool:
        """The page's login (Gradio auth): any name, an API key as the password. The key a
        name last logged in with is remembered, for the record of that visitor's
        corrections."""
        ok = self.key_ok(password)
        if ok:
            with self._lock:
                self._logins[username] = password
        return ok

    def key_of(self, username: str | None) -> str | None:
        with self._lock:
            return self._logins.get(username) if username else None
