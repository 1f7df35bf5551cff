"""HMA's hot path, ``GET /m/raw_lookup`` and ``GET /m/lookup`` of one PDQ hash, answered in
the event loop without the framework's per-request machinery.

A provider's integration sends these by the thousand a second. Through FastAPI each one paid
for routing, the dependency solver, parameter models, two thread hops (the token check and the
sync route) and the middleware chain: more than the index lookup itself. This ASGI layer wraps
the whole application (``web.app``), sends the headers ``SecurityHeaders`` would
(``security_headers``), and answers only the plain case: a token this process already knows
(``TokenCache``) holding the ``match`` scope, and parameters it reads exactly as the route
would. Anything else (an unknown token, a missing or malformed parameter, another signal type,
a URL, a repeated parameter, an unexpected error) goes on to the route, which authenticates,
validates and answers errors as always; so the fast path never gives an answer the route would
not, and ``tests/web/test_hma_fast_lookup.py`` holds the two to that.

The index lookup runs in the loop (about 0.2 ms, no store access); only when it finds
candidates are they checked against the store (``match.lookup.resolve_hits``): in the loop for
SQLite, in a worker thread for a server database.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from kaitiaki.match.lookup import SignalInputError, normalise_signal, pdq_candidates, resolve_hits
from kaitiaki.match.serving import server_for
from kaitiaki.store import Store
from kaitiaki.web.hma import matching  # the route's own rendering: the same shapes
from kaitiaki.web.hma.common import bank_names
from kaitiaki.web.security import security_headers
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.tokens import TokenCache, bearer_of

log = logging.getLogger(__name__)

_PATHS = ("/m/raw_lookup", "/m/lookup")
# The parameters each path reads here; any other sends the request on to the route.
_RAW = frozenset({"signal", "signal_type", "banks", "include_distance", "include_suppressed"})
_LOOKUP = frozenset(
    {"signal", "signal_type", "banks", "seed", "bypass_coinflip", "include_suppressed"}
)
# What FastAPI reads as a bool; the rest (e.g. "yes") the route parses.
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_LIMITS = {"signal": 200, "signal_type": 40, "banks": 10_000, "seed": 200}


class FastLookup:
    def __init__(
        self, app: ASGIApp, store: Store, tokens: TokenCache, settings: WebSettings
    ) -> None:
        self.app = app
        self._store = store
        self._tokens = tokens
        self._local = store.engine.dialect.name == "sqlite"
        self._always_secure = settings.secure_cookies
        self._headers = {s: security_headers(secure=s) for s in (False, True)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or scope["method"] != "GET" or path not in _PATHS:
            await self.app(scope, receive, send)
            return
        try:
            answer = await self._answer(scope, raw=path == "/m/raw_lookup")
        except Exception:  # nothing was sent yet: the route answers, through the error handlers
            log.exception("fast lookup failed; the route answers instead")
            answer = None
        if answer is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        secure = self._always_secure or scope.get("scheme") == "https"
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *self._headers[secure],
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, *, raw: bool) -> Any:
        token = bearer_of(scope)
        principal = None if token is None else self._tokens.get(token)
        if principal is None or not principal.can("match"):
            return None
        params = _params(scope, _RAW if raw else _LOOKUP)
        if params is None or params.get("signal_type") != "pdq" or "signal" not in params:
            return None
        flags = {k: _BOOLS.get(str(v).lower()) for k, v in params.items() if k in _BOOL_NAMES}
        if any(v is None for v in flags.values()):
            return None
        try:
            value = normalise_signal("pdq", str(params["signal"]))
        except SignalInputError:
            return None  # the route answers 400 with its message
        banks = bank_names(params.get("banks"))
        store = self._store
        if not server_for(store).ready:
            return None  # still loading: the route waits for it in a worker thread, not here
        include_disabled = True if raw else bool(flags.get("bypass_coinflip"))
        rows, found = pdq_candidates(store, [value], banks, include_disabled)
        if not found:
            hits = []
        elif self._local:
            # SQLite is a local file read in well under a millisecond, and WAL readers never
            # wait for a writer: cheaper here than the hop to a worker thread and back.
            hits = resolve_hits(store, rows, found)
        else:
            hits = await run_in_threadpool(resolve_hits, store, rows, found)
        suppressed = bool(flags.get("include_suppressed"))
        if not raw:
            return matching.by_bank(hits, suppressed)
        return matching.raw_matches(hits, suppressed, bool(flags.get("include_distance")))


_BOOL_NAMES = frozenset({"include_distance", "include_suppressed", "bypass_coinflip"})


def _params(scope: Scope, allowed: frozenset[str]) -> dict[str, str] | None:
    """The query's parameters, or None when one is unknown, repeated or over its limit."""
    try:
        pairs = parse_qsl(
            scope.get("query_string", b"").decode("latin-1"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=len(allowed),
        )
    except ValueError:
        return None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed or key in out or len(value) > _LIMITS.get(key, 20):
            return None
        out[key] = value
    return out
