"""Sign-in, sign-out and the home page."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.login import sign_in, sign_out
from kaitiaki.web.pages.render import page
from kaitiaki.web.security import is_secure

router = APIRouter(include_in_schema=False)
# Sign-in has no session yet to hold a CSRF token: a double-submit cookie stands in for it.
LOGIN_COOKIE = "kaitiaki_login"


def safe_next(target: str | None) -> str:
    """Only a path on this site: never ``//host`` or ``https://...`` (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(
    request: Request,
    *,
    status_code: int = 200,
    next_path: str = "/",
    error: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        None,
        status_code=status_code,
        headers=headers,
        next=safe_next(next_path),
        error=error,
        login_token=token,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_secure(request, request.app.state.settings),
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", _: object = Needs.PUBLIC) -> HTMLResponse:
    return login_page(request, next_path=next)


@router.post("/login", response_model=None)
async def login_submit(
    request: Request,
    name: str = Form("", max_length=100),
    password: str = Form("", max_length=1024),
    login_token: str = Form("", max_length=100),
    next: str = Form("/", max_length=2000),
    _: object = Needs.PUBLIC,
) -> Response:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), login_token.encode()):
        return login_page(
            request,
            status_code=403,
            next_path=next,
            error="The sign-in form expired; please try again.",
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    try:
        await sign_in(request, response, name, password)
    except HTTPException as exc:
        return login_page(
            request,
            status_code=exc.status_code,
            next_path=next,
            error=str(exc.detail),
            headers=dict(exc.headers or {}),
        )
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout", response_model=None)
async def logout_submit(request: Request, user: CurrentUser = Needs.SIGNED_IN) -> Response:
    response = RedirectResponse("/login", status_code=303)
    await sign_out(request, response, user)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: CurrentUser = Needs.SIGNED_IN) -> HTMLResponse:
    """The dashboard, with what waits on this person first ("Your work")."""
    from kaitiaki.web.api.common import store_of
    from kaitiaki.web.your_work import dashboard, your_work

    store = store_of(request)
    return page(request, "home.html", user, work=your_work(store, user), **dashboard(store, user))
