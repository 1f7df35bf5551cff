"""``/api/auth``: sign in, sign out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from kaitiaki.users.roles import PERMISSIONS, Role
from kaitiaki.web.api.common import errors
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.login import sign_in, sign_out

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(BaseModel):
    name: str = Field(max_length=100)
    password: str = Field(max_length=1024)


class Me(BaseModel):
    name: str
    role: str
    # A liaison's (country, agency) pairs as "CC:AGENCY"; ``agency`` is the same, joined, for
    # display (kept for clients written before jurisdictions).
    jurisdictions: list[str]
    agency: str | None
    permissions: list[str]
    csrf_token: str


@router.post("/login", response_model=Me, responses=errors(401, 415, 429))
async def login(
    body: LoginIn, request: Request, response: Response, _: object = Needs.PUBLIC
) -> Me:
    """Sign in with a JSON body; the session cookie comes back with the CSRF token to send
    in ``X-CSRF-Token`` on every change. Only JSON is accepted: a cross-site form cannot send
    it without a CORS preflight, which this server never grants (login CSRF)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "send the credentials as application/json")
    name, role, pairs, csrf = await sign_in(request, response, body.name, body.password)
    permissions = sorted(p.value for p in PERMISSIONS[Role(role)])
    return Me(
        name=name,
        role=role,
        jurisdictions=pairs,
        agency="; ".join(pairs) or None,
        permissions=permissions,
        csrf_token=csrf,
    )


@router.post("/logout", status_code=204, response_class=Response, responses=errors())
async def logout(request: Request, user: CurrentUser = Needs.SIGNED_IN) -> Response:
    response = Response(status_code=204)
    await sign_out(request, response, user)
    return response


@router.get("/me", response_model=Me, responses=errors())
def me(user: CurrentUser = Needs.SIGNED_IN) -> Me:
    permissions = sorted(p.value for p in PERMISSIONS[user.role])
    return Me(
        name=user.name,
        role=user.role.value,
        jurisdictions=[str(j) for j in sorted(user.jurisdictions)],
        agency=user.agency,
        permissions=permissions,
        csrf_token=user.csrf_token,
    )
