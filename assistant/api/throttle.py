"""Failed-key throttling: after ``max_failures`` wrong or missing admin keys from one client
address within ``window_s`` seconds, every further attempt from it is refused with 429 and a
``Retry-After`` until the oldest failure leaves the window — a correct key included, so guessing
cannot go on at 650 tries a second. One throttle per app (tests run several in one process)."""

from __future__ import annotations

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
