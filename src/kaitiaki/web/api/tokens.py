"""``/api/tokens``: API tokens for machine clients (admin only). A new token is in the answer to
its creation and nowhere else, ever; changes are audited inside ``users.tokens``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field, StringConstraints

from kaitiaki.users.tokens import (
    SCOPES,
    ApiTokenView,
    TokenError,
    TokenNotFoundError,
    create_token,
    list_tokens,
    revoke_token,
)
from kaitiaki.web.api.common import Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api/tokens", tags=["tokens"])

# Checked against SCOPES by ``create_token``, whose refusal names the choices.
ScopeName = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class TokenOut(BaseModel):
    name: str
    scopes: list[str]
    created_by: str
    created_at: Timestamp
    revoked_by: str | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown this once, kept only as a hash.")


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[ScopeName] = Field(
        min_length=1, max_length=len(SCOPES), description=f"Some of: {', '.join(SCOPES)}."
    )


def _out(view: ApiTokenView) -> TokenOut:
    return TokenOut(
        name=view.name,
        scopes=list(view.scopes),
        created_by=view.created_by,
        created_at=view.created_at,
        revoked_by=view.revoked_by,
        revoked_at=view.revoked_at,
        last_used_at=view.last_used_at,
    )


@contextmanager
def _refused() -> Iterator[None]:
    try:
        yield
    except TokenNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except TokenError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("", response_model=list[TokenOut], responses=errors())
def tokens_list(request: Request, user: CurrentUser = Needs.MANAGE_USERS) -> list[TokenOut]:
    return [_out(view) for view in list_tokens(store_of(request))]


@router.post("", response_model=TokenCreated, status_code=201, responses=errors(400))
def tokens_create(
    body: TokenIn, request: Request, user: CurrentUser = Needs.MANAGE_USERS
) -> TokenCreated:
    with _refused():
        view, raw = create_token(store_of(request), body.name, body.scopes, actor=user.actor)
    return TokenCreated(**_out(view).model_dump(), token=raw)


@router.post("/{name}/revoke", response_model=TokenOut, responses=errors(400, 404))
def tokens_revoke(
    request: Request,
    name: str = Path(max_length=100),
    user: CurrentUser = Needs.MANAGE_USERS,
) -> TokenOut:
    """Revoke a token: from the next request on it authenticates nothing (in this server; in
    another process sharing the store, within its token memory's few seconds)."""
    with _refused():
        revoked = revoke_token(store_of(request), name, actor=user.actor)
    request.app.state.tokens.clear()
    return _out(revoked)
