"""Failed sign-ins counted per user name and per client address, in memory.

slowapi/limits count requests to a route; what must be limited here is *failures*, keyed twice
(name and address), and successes must not count. That is a few lines over a dict of deques.
The counts live in the server process: ``kaitiaki serve`` runs one web process (its job runner
is a child process that serves no requests), so every attempt passes through here; running
several web processes would need these counts in the store, which is why ``serve`` offers no
``--workers`` (nor does the session cache, ``session_cache``, expect other web processes). A
restart forgets the counts, which only gives an attacker back one window's worth of guesses,
each still costing an argon2 verification.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class FailureLimiter:
    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and now - found[0] >= self.window_s:
            found.popleft()
        return found

    def retry_after(self, *keys: str) -> int:
        """Seconds until a new attempt is allowed for every key; 0 when allowed now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if len(recent) >= self.limit:
                    wait = max(wait, self.window_s - (now - recent[-self.limit]))
            self._sweep(now)
        return int(wait) + 1 if wait > 0 else 0

    def fail(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def _sweep(self, now: float) -> None:
        # Bound memory under a spray of user names: drop keys whose failures have all aged out.
        if len(self._failures) > 10_000:
            for key in [
                k for k, v in self._failures.items() if not v or now - v[-1] >= self.window_s
            ]:
                del self._failures[key]
