"""Signing in and out, shared by the login page and ``/api/auth``."""

from __future__ import annotations

from fastapi import HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from kaitiaki.audit import record
from kaitiaki.store import Store
from kaitiaki.users import authenticate
from kaitiaki.web.authz import CurrentUser
from kaitiaki.web.ratelimit import FailureLimiter
from kaitiaki.web.security import is_secure
from kaitiaki.web.sessions import COOKIE, create_session, end_session
from kaitiaki.web.settings import WebSettings


def client_address(request: Request) -> str:
    # The socket's peer, never X-Forwarded-For: a header any client can set would let one
    # attacker spread guesses over invented addresses.
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
) -> tuple[str, str, str | None, str]:
    """Check the password under the rate limit; on success start a fresh session, set the
    cookie on ``response`` and return (name, role, agency, csrf token)."""
    app = request.app
    store: Store = app.state.store
    settings: WebSettings = app.state.settings
    limiter: FailureLimiter = app.state.login_limiter
    client = client_address(request)
    keys = (f"name:{name.strip().lower()[:100]}", f"ip:{client}")
    wait = limiter.retry_after(*keys)
    if wait:
        raise HTTPException(
            429,
            f"too many failed sign-ins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user = await run_in_threadpool(authenticate, store, name, password)
    if user is None:
        limiter.fail(*keys)
        await run_in_threadpool(
            _audit, store, f"web:{name.strip()[:100]}", "login.failed", name.strip()[:100], client
        )
        raise HTTPException(401, "wrong user name or password")
    old = request.cookies.get(COOKIE)
    token, csrf = await run_in_threadpool(
        lambda: create_session(store, user.id, client, settings, replaces=old)
    )
    if old:
        app.state.sessions.forget(old)
    await run_in_threadpool(_audit, store, f"web:{user.name}", "login", user.name, client)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_secure(request, settings),
    )
    return user.name, user.role, user.agency, csrf


def _end(store: Store, token: str, name: str, client: str) -> None:
    end_session(store, token)
    _audit(store, f"web:{name}", "logout", name, client)


async def sign_out(request: Request, response: Response, user: CurrentUser) -> None:
    """End ``user``'s session (the one this request's cookie names) and audit it."""
    token = request.cookies.get(COOKIE)
    if token:
        await run_in_threadpool(
            _end, request.app.state.store, token, user.name, client_address(request)
        )
        request.app.state.sessions.forget(token)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
