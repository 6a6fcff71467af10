"""Two throttles, one of each per app (tests run several in one process).

``AuthThrottle``: after ``max_failures`` wrong or missing admin keys from one client address
within ``window_s`` seconds, every further attempt from it is refused with 429 and a
``Retry-After`` until the oldest failure leaves the window — a correct key included, so guessing
cannot go on at 650 tries a second.

``RefusalPacer``: requests the server refuses for what they carry (a body over the cap, not
JSON, invalid text) are answered at most ``rate`` a second after a burst; the rest wait for
their turn before the refusal is sent.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict, deque

from ..errors import AuthError

MAX_CLIENTS = 10_000  # addresses remembered at once; the oldest are forgotten first


class TooManyAttempts(AuthError):
    """Too many failed key attempts from one address; ``retry_after`` seconds until the next."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"管理密钥错误次数过多，请 {retry_after} 秒后再试")


class AuthThrottle:
    def __init__(self, max_failures: int, window_s: float, clock=time.monotonic):
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()  # the UI calls from worker threads, the API from the loop

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
        return times

    def check(self, client: str | None) -> None:
        """Raise ``TooManyAttempts`` while ``client`` is locked out."""
        with self._lock:
            now = self._clock()
            times = self._recent(client or "?", now)
            if len(times) >= self.max_failures:
                wait = self.window_s - (now - times[0])
                raise TooManyAttempts(max(1, math.ceil(wait)))

    def failed(self, client: str | None) -> None:
        with self._lock:
            key = client or "?"
            times = self._failures.setdefault(key, deque())
            times.append(self._clock())
            self._failures.move_to_end(key)
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)


class RefusalPacer:
    """Paces refusals (GCRA: ``burst`` at once, then one every ``1 / rate`` seconds).

    A refusal costs the server little, but a client that sends nothing else, as fast as it is
    answered, takes as much of the event loop — and the GIL the answering threads need — as it
    likes: 16 such clients made normal questions' p95 3–8× slower. Waiting for a turn costs nothing,
    and the refused client's next request waits with it, so refused traffic gets a fixed, small
    share of the server however it is sent; a client that makes one mistake is answered at
    once, and answers never wait here. At most ``max_waiting`` refusals wait at once (each may
    still hold its body); past that a refusal is sent without waiting. Used on the event loop
    only, so no lock."""

    def __init__(
        self, rate: float, burst: int | None = None, max_waiting: int = 64, clock=time.monotonic
    ) -> None:
        burst = burst or max(1, round(2 * rate))  # two seconds' worth by default
        self.interval = 1 / rate
        self.tolerance = (burst - 1) * self.interval
        self.max_waiting = max_waiting
        self.waiting = 0
        self._clock = clock
        self._next = 0.0  # when the next refusal is due at the steady rate

    def reserve(self) -> float:
        """Take the next turn; the seconds to wait for it (0 within the burst), or 0 without
        taking one when ``max_waiting`` refusals already wait."""
        now = self._clock()
        due = max(self._next, now)
        wait = max(0.0, due - self.tolerance - now)
        if wait and self.waiting >= self.max_waiting:
            return 0.0
        self._next = due + self.interval
        return wait

    async def wait(self) -> None:
        delay = self.reserve()
        if not delay:
            return
        self.waiting += 1
        try:
            await asyncio.sleep(delay)
        finally:
            self.waiting -= 1
