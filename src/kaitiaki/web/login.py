"""Signing in and out, shared by the login page and ``/api/auth``."""

from __future__ import annotations

from fastapi import HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from kaitiaki.audit import record
from kaitiaki.store import Store
from kaitiaki.store.models import User
from kaitiaki.users import authenticate
from kaitiaki.users.accounts import jurisdictions_of
from kaitiaki.web.authz import CurrentUser
from kaitiaki.web.ratelimit import Limit, Refused, SignInLimiter, address_key, name_key
from kaitiaki.web.security import is_secure
from kaitiaki.web.sessions import COOKIE, create_session, end_session
from kaitiaki.web.settings import WebSettings


def client_address(request: Request) -> str:
    # The socket's peer. X-Forwarded-For is read only by uvicorn's proxy-headers middleware, and
    # only from the proxies ``kaitiaki serve --forwarded-allow-ips`` names, which then sets the
    # peer to the real client: a header any client could set would let one attacker spread
    # guesses over invented addresses.
    return request.client.host if request.client else "unknown"


def _audit(store: Store, actor: str, action: str, name: str, client: str) -> None:
    with store.session() as session:
        record(
            session,
            actor=actor,
            action=action,
            target_type="user",
            target_id=name,
            details={"client": client},
        )


async def sign_in(
    request: Request, response: Response, name: str, password: str
) -> tuple[str, str, list[str], str]:
    """Check the password under the rate limit; on success start a fresh session, set the
    cookie on ``response`` and return (name, role, jurisdictions as "CC:AGENCY", csrf token)."""
    app = request.app
    store: Store = app.state.store
    settings: WebSettings = app.state.settings
    limiter: SignInLimiter = app.state.login_limiter
    client = client_address(request)
    limits = [
        Limit(name_key(name), settings.login_failures),
        Limit(address_key(client), settings.login_address_failures),
    ]
    # Counted before the password is checked, so concurrent guesses cannot all get through.
    begun = await run_in_threadpool(limiter.begin, limits)
    if isinstance(begun, Refused):
        raise HTTPException(
            429,
            f"too many failed sign-ins; try again in {begun.retry_after} s",
            headers={"Retry-After": str(begun.retry_after)},
        )
    user: User | None = None
    try:
        user = await run_in_threadpool(authenticate, store, name, password)
    finally:
        # Settled even when the check itself fails (a database error then counts as a failure).
        await run_in_threadpool(limiter.finish, begun, user is not None)
    if user is None:
        await run_in_threadpool(
            _audit, store, f"web:{name.strip()[:100]}", "login.failed", name.strip()[:100], client
        )
        raise HTTPException(401, "wrong user name or password")
    old = request.cookies.get(COOKIE)
    user_id = user.id
    audit_as = (f"web:{user.name}", user.name)
    # The session and its "login" entry are written in one transaction.
    token, csrf = await run_in_threadpool(
        lambda: create_session(store, user_id, client, settings, replaces=old, audit_as=audit_as)
    )
    if old:
        app.state.sessions.forget(old)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_secure(request, settings),
    )
    pairs = await run_in_threadpool(_jurisdictions, store, user_id)
    return user.name, user.role, pairs, csrf


def _jurisdictions(store: Store, user_id: int) -> list[str]:
    with store.session() as session:
        return [str(j) for j in sorted(jurisdictions_of(session, [user_id])[user_id])]


def _end(store: Store, token: str, name: str, client: str) -> None:
    end_session(store, token, audit_as=(f"web:{name}", name), client=client)


async def sign_out(request: Request, response: Response, user: CurrentUser) -> None:
    """End ``user``'s session (the one this request's cookie names) and audit it."""
    token = request.cookies.get(COOKIE)
    if token:
        await run_in_threadpool(
            _end, request.app.state.store, token, user.name, client_address(request)
        )
        request.app.state.sessions.forget(token)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
