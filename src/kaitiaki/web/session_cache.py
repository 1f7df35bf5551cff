"""A few seconds' memory of valid sessions, so most requests skip the session lookup.

Looking a session up costs two reads and, in the server, a hop to a worker thread; under load
that was a fixed share of every request. A session found valid is remembered for ``ttl`` seconds
(never past its absolute expiry), keyed by the SHA-256 of its token. Sign-out, and disabling an
account through the web application, forget the entries at once. A change made outside this
process (``kaitiaki users disable`` on the command line, another server on the same database)
takes effect here within ``ttl`` seconds; the idle limit is likewise enforced up to ``ttl`` late.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kaitiaki.web.sessions import SessionUser, token_hash

TTL_SECONDS = 2.0
_MAX_ENTRIES = 10_000


class SessionCache:
    def __init__(
        self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, datetime, SessionUser]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> SessionUser | None:
        """The remembered session of ``token``, or None (look it up in the store)."""
        if not token or self.ttl <= 0:
            return None
        digest = token_hash(token)
        with self._lock:
            found = self._entries.get(digest)
            if found is None:
                return None
            until, expires_at, user = found
            if self._clock() >= until or datetime.now(UTC) >= expires_at:
                del self._entries[digest]
                return None
            return user

    def put(self, user: SessionUser, expires_at: datetime) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                now = self._clock()
                for key in [k for k, (until, _, _) in self._entries.items() if until <= now]:
                    del self._entries[key]
                if len(self._entries) >= _MAX_ENTRIES:
                    self._entries.clear()
            self._entries[user.token_sha256] = (self._clock() + self.ttl, expires_at, user)

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token_hash(token), None)

    def forget_user(self, user_id: int) -> None:
        with self._lock:
            for key in [k for k, (_, _, u) in self._entries.items() if u.user_id == user_id]:
                del self._entries[key]
