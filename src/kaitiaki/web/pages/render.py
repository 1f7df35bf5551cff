"""Rendering pages: one Jinja2 environment, the navigation a role may use, error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kaitiaki.users.roles import Permission
from kaitiaki.web.authz import CurrentUser
from kaitiaki.web.formatting import TZ_COOKIE, install, zone_named

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parents[1] / "templates"))
install(TEMPLATES.env)
DIST = Path(__file__).parents[1] / "static" / "dist"

NAV: tuple[tuple[str, str, Permission | None], ...] = (
    # Home is the dashboard ("Your work" first); ``/dashboard`` redirects there.
    ("Home", "/", None),
    ("Evidence", "/evidence", Permission.VIEW_FILES),
    ("Files", "/files", Permission.VIEW_FILES),
    ("Review", "/review", Permission.REVIEW),
    ("Hash sets", "/hashsets", Permission.VIEW_HASH_SETS),
    ("Exchanges", "/exchanges", Permission.VIEW_FILES),
    ("Subjects", "/subjects", Permission.VIEW_SUBJECTS),
    ("Accounts", "/accounts", Permission.VIEW_SUBJECTS),
    ("Referrals", "/referrals", Permission.VIEW_REFERRALS),
    ("Received cases", "/received", Permission.VIEW_REFERRALS),
    ("CyberTipline", "/reports", Permission.VIEW_REPORTS),
    ("Holds", "/holds", Permission.VIEW_REPORTS),
    ("Jobs", "/jobs", Permission.VIEW_STATISTICS),
    ("Audit log", "/audit", Permission.VIEW_AUDIT),
    ("Users", "/users", Permission.VIEW_USERS),
)


def assets_built() -> bool:
    return (DIST / "dashboard.js").is_file()


def nav_for(user: CurrentUser | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    return [(label, href) for label, href, p in NAV if p is None or user.can(p)]


def page(
    request: Request,
    template: str,
    user: CurrentUser | None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    context.update(
        user=user,
        nav=nav_for(user),
        csrf_token=user.csrf_token if user else "",
        assets_built=assets_built(),
        Permission=Permission,
        # The reader's time zone for the ``when`` filter (UTC until the browser has said).
        tz=zone_named(request.cookies.get(TZ_COOKIE)),
    )
    return TEMPLATES.TemplateResponse(
        request, template, context, status_code=status_code, headers=headers
    )


def error_page(
    request: Request, status_code: int, message: str, headers: dict[str, str]
) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    if status_code == 401:
        from kaitiaki.web.pages.account import login_page

        return login_page(
            request,
            status_code=401,
            next_path=request.url.path,
            error="Sign in to continue.",
            headers=headers,
        )
    return page(
        request,
        "error.html",
        user,
        status_code=status_code,
        headers=headers,
        status=status_code,
        message=message,
    )
