"""Reading an article under a budget: every extraction (a file, an upload, a fetched link) runs
in a worker process with a hard limit on time and memory, and is killed when the budget is
spent or the caller cancels. A hostile file (a token-heavy PDF, an XML-heavy Word file, a
decompression bomb) then costs at most the budget, and whatever a parser raises becomes the
input's error, never the caller's traceback.

Workers are forked from a reader process (a clean interpreter that has imported the readers
once, started on first use), never from the caller: the server holds threads and torch, which
must not be forked. Plain UTF-8 text, which no parser touches, is read in-process.

Codes: extract.py's and fetch.py's, plus `too_complex` (over the budget), `unreadable` (a
parser failed) and `cancelled`.
"""

from __future__ import annotations

import atexit
import os
import pickle
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InputError, OptionError
from .extract import Extracted, extract, kind_of

DEFAULT_SECONDS = 20.0
DEFAULT_MEMORY_MB = 1024
# What the worker imports once, so each read forks with the readers already loaded.
_PRELOAD = [
    "khulasa.models.reading.fetch",
    "trafilatura",
    "pypdf",
    "docx",
    "charset_normalizer",
    "httpx",
]
_POLL = 0.05  # seconds between looks at the worker, the deadline and the cancel flag


@dataclass(frozen=True)
class ReadBudget:
    """What reading one article may cost: wall-clock seconds (a link's fetch included) and
    memory in MiB above what the worker starts with."""

    seconds: float = DEFAULT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB

    def __post_init__(self):
        if not self.seconds > 0:
            raise OptionError(f"--read-seconds must be more than 0, not {self.seconds}.")
        if self.memory_mb < 64:
            raise OptionError(f"--read-memory must be at least 64 (MiB), not {self.memory_mb}.")


class Cancelled(InputError):
    """The caller stopped the read (Cancel on the page, a client that went away)."""

    def __init__(self, where: str):
        super().__init__(f"Reading {where} was cancelled.", "cancelled")


def too_complex(where: str, why: str, budget: ReadBudget) -> InputError:
    return InputError(
        f"{where} is too complex to read within the reading budget ({why}; the budget is "
        f"{budget.seconds:g} s and {budget.memory_mb} MiB). Fix: paste the article's text, "
        f"or save it as plain text; --read-seconds/--read-memory raise the budget (on a "
        f"server, its operator's options).",
        "too_complex",
    )


def read_bytes(
    data: bytes,
    name: str = "",
    url: str | None = None,
    budget: ReadBudget | None = None,
    cancel: threading.Event | None = None,
    max_chars: int | None = None,
) -> Extracted:
    """extract.extract(data, name, url) within `budget`; InputError otherwise. With
    `max_chars`, a text longer than that is refused (`too_long`) where it is read: in the
    worker, so a small file that expands to millions of characters never travels back."""
    where = name or "the file"
    if _plain_text(data):
        return within(extract(data, name=name, url=url), where, max_chars)
    return run_bounded(_extract_within, (data, name, url, max_chars), where, budget, cancel)


def within(found: Extracted, where: str, max_chars: int | None) -> Extracted:
    """`found`, or InputError `too_long` when its text is over `max_chars` (None: no limit)."""
    if max_chars is not None and len(found.text) > max_chars:
        raise InputError(
            f"{where} holds {len(found.text):,} characters; the limit here is {max_chars:,}. "
            "Fix: send the first part, or split it.",
            "too_long",
        )
    return found


def _extract_within(data: bytes, name: str, url: str | None, max_chars: int | None) -> Extracted:
    return within(extract(data, name=name, url=url), name or "the file", max_chars)


def read_link(
    url: str,
    policy=None,
    budget: ReadBudget | None = None,
    cancel: threading.Event | None = None,
    max_chars: int | None = None,
) -> Extracted:
    """fetch.fetch(url, policy) within `budget` (the fetch's own deadline inside it)."""
    from .fetch import FetchPolicy

    policy = policy or FetchPolicy()
    budget = budget or ReadBudget()
    # The fetch has its own deadline (connect to last byte); reading what came, the budget.
    total = ReadBudget(budget.seconds + policy.timeout, budget.memory_mb)
    args = (url, policy, budget.seconds, max_chars)
    return run_bounded(_fetch_job, args, url, total, cancel)


def _fetch_job(url: str, policy, seconds: float, max_chars: int | None = None) -> Extracted:
    """In the worker: the download under an alarm at the policy's timeout (a trickling server
    is cut off then, whatever its pace), then the extraction under the reading budget."""
    from .fetch import download

    signal.setitimer(signal.ITIMER_REAL, policy.timeout)
    try:
        data, name, final = download(url, policy)
    except _Deadline:
        raise InputError(
            f"Could not fetch {url}: it did not arrive within {policy.timeout:g} s.",
            "fetch_failed",
        ) from None
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return within(extract(data, name=name, url=final), url, max_chars)


def _plain_text(data: bytes) -> bool:
    """UTF-8 text that is not markup: read in-process (a linear decode, nothing to bound)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or kind_of(data) != "txt":
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False  # a legacy encoding: charset detection runs in the worker
    return True


def run_bounded(
    job: Callable,
    args: tuple,
    where: str,
    budget: ReadBudget | None = None,
    cancel: threading.Event | None = None,
):
    """`job(*args)` in a worker process under `budget`: its result, or InputError (the job's
    own, `too_complex`, `unreadable` or `cancelled`). The worker is gone when this returns."""
    budget = budget or ReadBudget()
    try:
        conn = _reader().connect()
    except OSError:  # the reader process went away (killed, or its folder removed): anew
        conn = _reader(restart=True).connect()
    pid = None
    try:
        conn.sendall(_frame(pickle.dumps((job, args, where, budget))))
        deadline = time.monotonic() + budget.seconds
        stream = _Frames(conn)
        while True:
            frame = stream.next(_POLL)
            if frame is not None:
                if pid is None:
                    pid = int(frame)  # the worker says who it is first
                    continue
                answer = pickle.loads(frame)
                break
            if stream.closed:
                answer = None  # the worker died without a word (killed by a limit)
                break
            if cancel is not None and cancel.is_set():
                raise Cancelled(where)
            if time.monotonic() > deadline:
                raise too_complex(where, f"not done after {budget.seconds:g} s", budget)
    finally:
        conn.close()
        if pid is not None:
            _kill(pid)
    if answer is None:
        raise too_complex(where, "its reader was stopped by a limit", budget)
    status, value = answer
    if status == "ok":
        return value
    message, code = value
    if code == "too_complex":
        raise too_complex(where, message, budget)
    raise InputError(message, code)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # done and reaped already


def _frame(data: bytes) -> bytes:
    return struct.pack("!Q", len(data)) + data


class _Frames:
    """Length-prefixed frames from a socket, with a timeout for each look."""

    def __init__(self, conn: socket.socket):
        self.conn, self.buffer, self.closed = conn, b"", False

    def next(self, timeout: float) -> bytes | None:
        while True:
            if len(self.buffer) >= 8:
                (size,) = struct.unpack("!Q", self.buffer[:8])
                if len(self.buffer) >= 8 + size:
                    frame, self.buffer = self.buffer[8 : 8 + size], self.buffer[8 + size :]
                    return frame
            if self.closed:
                return None
            ready, _, _ = select.select([self.conn], [], [], timeout)
            if not ready:
                return None
            chunk = self.conn.recv(1 << 20)
            if not chunk:
                self.closed = True
            self.buffer += chunk
            timeout = 0


class _Reader:
    """The reader process of this process: a clean interpreter (never a fork of the caller,
    which may hold threads and torch) that has imported the readers once, listens on a Unix
    socket in a private folder, and forks one worker per read. It ends when its parent does
    (its standard input closes)."""

    def __init__(self):
        self.owner = os.getpid()
        self.folder = tempfile.mkdtemp(prefix="khulasa-reader-")
        if len(self.folder) > 90:  # a Unix socket's path has at most 107 bytes
            os.rmdir(self.folder)
            self.folder = tempfile.mkdtemp(prefix="khulasa-reader-", dir="/tmp")
        self.path = os.path.join(self.folder, "socket")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from khulasa.models.reading.bounded import _serve; _serve()",
             self.path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )  # fmt: skip
        ready = self.process.stdout.readline()  # the reader says so once it listens
        if ready.strip() != b"ready":
            raise InputError(
                "The document reader could not start (see the messages above).", "unreadable"
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def connect(self) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(self.path)
        return conn

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


_reader_lock = threading.Lock()
_the_reader: _Reader | None = None


def _reader(restart: bool = False) -> _Reader:
    """This process's reader, started on first use (a forked caller starts its own)."""
    global _the_reader
    with _reader_lock:
        current = _the_reader
        if restart or current is None or not current.alive() or current.owner != os.getpid():
            _the_reader = _Reader()
            atexit.register(_the_reader.close)
        return _the_reader


def _serve() -> None:
    """The reader process: import the readers, listen, fork a worker per connection."""
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    path = sys.argv[-1]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    # Nobody reads the pipe from here on: a parser that prints must not fill it and block.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    parent = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([listener, parent], [], [])
        if parent in ready:
            if not os.read(parent, 1):  # the caller's process is gone
                return
        if listener in ready:
            conn, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                try:
                    _worker(conn)
                finally:
                    os._exit(0)
            conn.close()


def _worker(conn: socket.socket) -> None:
    conn.sendall(_frame(str(os.getpid()).encode()))
    stream = _Frames(conn)
    frame = None
    while frame is None and not stream.closed:
        frame = stream.next(1.0)
    if frame is None:
        return
    job, args, where, budget = pickle.loads(frame)
    conn.sendall(_frame(_work(job, args, where, budget)))


class _Deadline(Exception):
    pass


def _work(job: Callable, args: tuple, where: str, budget: ReadBudget) -> bytes:
    """In the worker: limits on, then the job; the pickled answer, or the error as
    (message, code)."""
    _limit(budget)
    try:
        answer = ("ok", job(*args))
    except InputError as exc:
        answer = ("error", (str(exc), exc.code))
    except (MemoryError, RecursionError):
        answer = ("error", ("its reader ran out of memory", "too_complex"))
    except _Deadline:
        answer = ("error", (f"not done after {budget.seconds:g} s", "too_complex"))
    except Exception as exc:  # a parser's own failure is the input's error
        detail = f"{type(exc).__name__}: {exc}"[:300]
        answer = ("error", (f"{where} could not be read ({detail}).", "unreadable"))
    try:
        return pickle.dumps(answer)
    except MemoryError:
        return pickle.dumps(("error", ("its reader ran out of memory", "too_complex")))


def _limit(budget: ReadBudget) -> None:
    """Address space: what the worker has now plus the budget; CPU time: the budget (SIGXCPU
    then SIGKILL); an alarm at the wall-clock budget that unwinds a blocked read."""
    try:
        with open("/proc/self/statm") as f:
            now = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        now = 0
    if now:
        cap = now + budget.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    cpu = int(budget.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))

    def alarm(signum, frame):
        raise _Deadline()

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, budget.seconds)
