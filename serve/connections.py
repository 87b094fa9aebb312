"""The server's connections: uvicorn's HTTP/1.1 protocol with what it lacks against slow
clients. A connection must send a whole request head within HEAD_SECONDS of opening (uvicorn
itself waits for ever: a client that opens connections and sends nothing would hold a file
descriptor each until the server has none left), one address holds at most PER_ADDRESS
connections at once (more are closed as they open), and an idle kept-alive connection is
closed after IDLE_SECONDS. Behind a reverse proxy every connection comes from the proxy's
address: the proxy then does this job (README: deployment), and `--trusted-proxy` raises the
per-address bound for it.
"""

from __future__ import annotations

import resource
from collections import Counter

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_SECONDS = 10.0  # from opening a connection to the end of its request's head
PER_ADDRESS = 64  # connections one client address may hold at once
PER_PROXY = 4096  # ... a trusted proxy's address (it carries many clients)
BACKLOG = 128  # connections waiting to be accepted (asyncio accepts up to this many at once)
IDLE_SECONDS = 5  # a kept-alive connection with no request (uvicorn's own timer)


def guarded_protocol(trusted: tuple[str, ...] = (), head_seconds: float = HEAD_SECONDS,
                     per_address: int = PER_ADDRESS) -> type:  # fmt: skip
    """uvicorn's H11Protocol with the bounds above, counting the connections of one server."""
    held: Counter = Counter()

    class Guarded(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._address = self.client[0] if self.client else ""
            self._head_timer = None
            held[self._address] += 1
            most = PER_PROXY if self._address in trusted else per_address
            if held[self._address] > most:
                transport.abort()  # closed at once; connection_lost counts it out
                return
            self._head_timer = self.loop.call_later(head_seconds, self._head_too_slow)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and self._head_timer is not None:
                self._head_timer.cancel()  # the head is in: uvicorn's timers from here on
                self._head_timer = None

        def connection_lost(self, exc) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            held[self._address] -= 1
            if held[self._address] <= 0:
                del held[self._address]
            super().connection_lost(exc)

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

    return Guarded


def raise_descriptor_limit() -> int:
    """The soft limit on open files raised to the hard one (the server's room for
    connections); what it is now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft
