"""Routes for machine clients: ``Authorization: Bearer <token>`` with a scope, not a session.

    from kaitiaki.web.tokens import Scoped, token_scope
    def lookup(principal: TokenPrincipal = Scoped.MATCH) -> ...
    # the same as Depends(token_scope("match")), which ruff's B008 flags in a signature

The dependency is a ``Requirement`` (``kaitiaki.web.authz``), so ``requirement_of`` finds it,
``check_routes`` accepts the route and the route x role test knows it is token-only: a signed-in
browser session gets 401 here, never a token route's data.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from kaitiaki.users.tokens import SCOPES, TokenPrincipal, authenticate_token
from kaitiaki.web.authz import Requirement

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    return _bearer(request.headers.get("authorization", ""))


def bearer_of(scope: Scope) -> str | None:
    """``bearer`` from an ASGI scope (no Request built): the first Authorization header."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return _bearer(value.decode("latin-1"))
    return None


def _bearer(header: str) -> str | None:
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class TokenCache:
    """A few seconds' memory of live tokens, so a busy client's lookups skip the token's read
    in the store and the hop to a worker thread it needs (as ``session_cache`` does for
    sessions). Keyed by the token's SHA-256; only live tokens are remembered, so guessing fills
    nothing. A revocation through this process's web application forgets them at once; one made
    elsewhere (``kaitiaki tokens revoke``, another server) takes effect within ``ttl`` seconds.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, TokenPrincipal]] = {}

    def get(self, raw: str) -> TokenPrincipal | None:
        found = self._entries.get(_key(raw))
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    def put(self, raw: str, principal: TokenPrincipal) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()  # only live tokens get here: a handful, unless under test
        self._entries[_key(raw)] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._entries.clear()


def _key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def token_principal(request: Request) -> TokenPrincipal | None:
    """The live token of this request, or None; looked up once and cached on the request (the
    body-size middleware asks first, then the route's own check), and remembered for a few
    seconds in the process (``TokenCache``)."""
    if hasattr(request.state, "token_principal"):
        cached: TokenPrincipal | None = request.state.token_principal
        return cached
    raw = bearer(request)
    found = None
    if raw is not None:
        cache: TokenCache | None = getattr(request.app.state, "tokens", None)
        found = cache.get(raw) if cache is not None else None
        if found is None:
            found = await run_in_threadpool(authenticate_token, request.app.state.store, raw)
            if found is not None and cache is not None:
                cache.put(raw, found)
    request.state.token_principal = found
    return found


class TokenRequirement(Requirement):
    """A route for API tokens holding ``scope``. No CSRF check: a bearer token is never sent by
    a browser on its own, unlike a cookie."""

    challenge = "Bearer"

    def __init__(self, scope: str) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown token scope {scope!r}; one of: {', '.join(SCOPES)}")
        super().__init__(None)
        self.token_scope = self.scope = scope

    def __repr__(self) -> str:
        return f"token_scope({self.scope})"

    async def sender(self, request: Request) -> Any:
        return await token_principal(request)

    async def __call__(self, request: Request) -> Any:
        principal = await token_principal(request)
        if principal is None:
            raise HTTPException(401, "a valid API token is needed", headers=_CHALLENGE)
        if not principal.can(self.scope):
            raise HTTPException(403, f"this token lacks the {self.scope!r} scope")
        return principal


def token_scope(scope: str) -> TokenRequirement:
    """The dependency for a token route: ``Depends(token_scope("match"))``."""
    return TokenRequirement(scope)


class Scoped:
    """Each token route's requirement as a default value, like ``authz.Needs`` for sessions:
    ``principal: TokenPrincipal = Scoped.MATCH``."""

    HASH: Any = Depends(token_scope("hash"))
    MATCH: Any = Depends(token_scope("match"))
    CURATE: Any = Depends(token_scope("curate"))
    EXCHANGE: Any = Depends(token_scope("exchange"))
