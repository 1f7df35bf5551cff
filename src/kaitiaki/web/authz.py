"""Who may call a route: one requirement attached to every route, found again by a test.

Every route declares exactly one of ``requires(permission)``, ``signed_in()`` or ``public()``.
``create_app`` refuses to start when a route has none (``check_routes``), and the route x role
test walks ``app.routes`` with ``requirement_of``, so a new route cannot slip through unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from kaitiaki.users.roles import Permission, Role, allowed
from kaitiaki.users.scope import Jurisdiction, Scope
from kaitiaki.web.csrf import check_csrf
from kaitiaki.web.session_cache import SessionCache
from kaitiaki.web.sessions import COOKIE, SessionUser, load_session


@dataclass(frozen=True)
class CurrentUser:
    id: int
    name: str
    role: Role
    jurisdictions: frozenset[Jurisdiction]
    token_sha256: str
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the audit log names this person: ``web:<name>`` beside the CLI's ``cli:<name>``."""
        return f"web:{self.name}"

    @property
    def scope(self) -> Scope:
        """What this user may reach: the role's permissions and, for a liaison, only the
        referrals of its (country, agency) pairs."""
        return Scope(self.role, self.jurisdictions)

    @property
    def agency(self) -> str | None:
        """The jurisdictions for display (page header, ``/api/auth/me``); never used to scope."""
        return "; ".join(str(j) for j in sorted(self.jurisdictions)) or None

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)


def _current(found: SessionUser) -> CurrentUser:
    return CurrentUser(
        found.user_id,
        found.name,
        Role(found.role),
        found.jurisdictions,
        found.token_sha256,
        found.csrf_token,
    )


async def session_user(request: Request) -> CurrentUser | None:
    """The signed-in user of this request, or None; cached on the request."""
    if hasattr(request.state, "user"):
        cached: CurrentUser | None = request.state.user
        return cached
    token = request.cookies.get(COOKIE, "")
    app = request.app
    remembered: SessionCache = app.state.sessions
    found = remembered.get(token)
    if found is None and token:
        found = await run_in_threadpool(load_session, app.state.store, token, app.state.settings)
        if found is not None and found.expires_at is not None:
            remembered.put(found, found.expires_at)
    user = _current(found) if found else None
    request.state.user = user
    return user


class Requirement:
    """The dependency behind ``requires``/``signed_in``/``public``; ``permission`` None with
    ``public`` False means any signed-in user. A token route (``kaitiaki.web.tokens``) is a
    subclass naming its ``token_scope``: it takes ``Authorization: Bearer``, never a session."""

    # Set by token routes; None means a browser session's route.
    token_scope: str | None = None
    # The ``WWW-Authenticate`` scheme of a 401 from this requirement.
    challenge = "Cookie"

    def __init__(self, permission: Permission | None, *, public: bool = False) -> None:
        self.permission = permission
        self.public = public

    def __repr__(self) -> str:
        return "public" if self.public else f"requires({self.permission or 'signed in'})"

    async def sender(self, request: Request) -> Any:
        """Who sends this request as this requirement knows senders, or None; the body-size
        middleware asks before a body is read."""
        return await session_user(request)

    async def __call__(self, request: Request) -> Any:
        user = await session_user(request)
        if self.public:
            return user
        if user is None:
            raise HTTPException(401, "sign in first", headers={"WWW-Authenticate": "Cookie"})
        await check_csrf(request, user.csrf_token)
        if self.permission is not None and not user.can(self.permission):
            raise HTTPException(403, f"your role ({user.role}) may not {self.permission}")
        return user


def requires(permission: Permission) -> Any:
    return Depends(Requirement(permission))


def signed_in() -> Any:
    return Depends(Requirement(None))


def public() -> Any:
    return Depends(Requirement(None, public=True))


class Needs:
    """Each route's requirement as a default value: ``user: CurrentUser = Needs.VIEW_FILES``."""

    PUBLIC: Any = public()
    SIGNED_IN: Any = signed_in()
    VIEW_FILES: Any = requires(Permission.VIEW_FILES)
    VIEW_HASH_SETS: Any = requires(Permission.VIEW_HASH_SETS)
    VIEW_SUBJECTS: Any = requires(Permission.VIEW_SUBJECTS)
    VIEW_PRIORITY: Any = requires(Permission.VIEW_PRIORITY)
    VIEW_REFERRALS: Any = requires(Permission.VIEW_REFERRALS)
    VIEW_STATISTICS: Any = requires(Permission.VIEW_STATISTICS)
    VIEW_AUDIT: Any = requires(Permission.VIEW_AUDIT)
    VIEW_USERS: Any = requires(Permission.VIEW_USERS)
    REVEAL_CONTENT: Any = requires(Permission.REVEAL_CONTENT)
    REVIEW: Any = requires(Permission.REVIEW)
    SCAN: Any = requires(Permission.SCAN)
    IMPORT_HASH_SETS: Any = requires(Permission.IMPORT_HASH_SETS)
    ANALYSE: Any = requires(Permission.ANALYSE)
    PRIORITISE: Any = requires(Permission.PRIORITISE)
    BUILD_REFERRALS: Any = requires(Permission.BUILD_REFERRALS)
    UPDATE_REFERRAL: Any = requires(Permission.UPDATE_REFERRAL)
    RECORD_OUTCOMES: Any = requires(Permission.RECORD_OUTCOMES)
    RECEIVE_REFERRALS: Any = requires(Permission.RECEIVE_REFERRALS)
    MANAGE_USERS: Any = requires(Permission.MANAGE_USERS)
    VIEW_REPORTS: Any = requires(Permission.VIEW_REPORTS)
    FILE_REPORTS: Any = requires(Permission.FILE_REPORTS)
    MANAGE_HOLDS: Any = requires(Permission.MANAGE_HOLDS)


def requirement_of(route: APIRoute) -> Requirement | None:
    """The requirement a route declares (searching nested dependencies), or None."""
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if isinstance(dependency.call, Requirement):
            return dependency.call
        stack.extend(dependency.dependencies)
    return None


def check_routes(routes: list[Any]) -> None:
    missing = [
        f"{sorted(r.methods or ())} {r.path}"
        for r in routes
        if isinstance(r, APIRoute) and requirement_of(r) is None
    ]
    if missing:
        raise RuntimeError(f"routes without an authorisation requirement: {', '.join(missing)}")
