"""``/api/users``: accounts of the people working the operation (admin), and the jurisdictions
that bound a liaison officer. Every change is audited inside ``users.accounts``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from kaitiaki.store import Store
from kaitiaki.store.models import User
from kaitiaki.users import UserError, add_user, disable_user, set_jurisdictions
from kaitiaki.users.accounts import MAX_JURISDICTIONS, list_users_with_jurisdictions
from kaitiaki.users.roles import Role
from kaitiaki.users.scope import Jurisdiction, JurisdictionError, parse_jurisdiction
from kaitiaki.web.api.common import Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.sessions import end_user_sessions

router = APIRouter(prefix="/api/users", tags=["users"])

# "COUNTRY:AGENCY", as on the command line: two letters, a colon and a bounded agency name.
JurisdictionText = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class JurisdictionOut(BaseModel):
    country: str
    agency: str


class UserOut(BaseModel):
    name: str
    role: str
    jurisdictions: list[JurisdictionOut]
    disabled: bool
    created_at: Timestamp


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    password: str = Field(min_length=1, max_length=1024)
    jurisdictions: list[JurisdictionText] = Field(
        default_factory=list,
        max_length=MAX_JURISDICTIONS,
        description='A liaison\'s (country, agency) pairs as "COUNTRY:AGENCY", e.g. '
        '"NZ:New Zealand Police"; required for a liaison, refused for every other role.',
    )


class JurisdictionsIn(BaseModel):
    jurisdictions: list[JurisdictionText] = Field(min_length=1, max_length=MAX_JURISDICTIONS)


def _out(user: User, pairs: frozenset[Jurisdiction]) -> UserOut:
    return UserOut(
        name=user.name,
        role=user.role,
        jurisdictions=[JurisdictionOut(country=p.country, agency=p.agency) for p in sorted(pairs)],
        disabled=user.disabled,
        created_at=user.created_at,
    )


def users(store: Store) -> list[UserOut]:
    return [_out(u, pairs) for u, pairs in list_users_with_jurisdictions(store)]


def _pairs(texts: list[str]) -> list[Jurisdiction]:
    return [parse_jurisdiction(text) for text in texts]


@contextmanager
def _refused() -> Iterator[None]:
    try:
        yield
    except (UserError, JurisdictionError) as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("", response_model=list[UserOut], responses=errors())
def users_list(request: Request, response: Response, user: CurrentUser = Needs.VIEW_USERS) -> Any:
    """Users by name. Paged, sorted and filtered as ``/users`` is (``page``, ``per_page``,
    ``sort``, ``q``, ``role``, ``disabled``); the total in ``X-Total-Count``."""
    from kaitiaki.web import listing
    from kaitiaki.web.lists import people

    query = listing.parse(request, people.USERS)
    return listing.api_listed(request, user, response, people.user_list(store_of(request), query))


@router.post("", response_model=UserOut, status_code=201, responses=errors(400))
def users_add(body: UserIn, request: Request, user: CurrentUser = Needs.MANAGE_USERS) -> UserOut:
    store = store_of(request)
    with _refused():
        pairs = _pairs(body.jurisdictions)
        added = add_user(
            store, body.name, body.role, body.password, actor=user.actor, jurisdictions=pairs
        )
    return _out(added, frozenset(pairs))


@router.post("/{name}/jurisdictions", response_model=UserOut, responses=errors(400, 404))
def users_jurisdictions(
    body: JurisdictionsIn,
    request: Request,
    name: str = Path(max_length=100),
    user: CurrentUser = Needs.MANAGE_USERS,
) -> UserOut:
    """Replace a liaison's jurisdictions (audited, with the old and new pairs); its signed-in
    sessions see the change on their next request."""
    store = store_of(request)
    with _refused():
        changed, pairs = set_jurisdictions(
            store, name, _pairs(body.jurisdictions), actor=user.actor
        )
    request.app.state.sessions.forget_user(changed.id)
    return _out(changed, pairs)


@router.post("/{name}/disable", response_model=UserOut, responses=errors(400, 404))
def users_disable(
    request: Request,
    name: str = Path(max_length=100),
    user: CurrentUser = Needs.MANAGE_USERS,
) -> UserOut:
    """Disable an account and end its sessions (accounts are never deleted)."""
    store = store_of(request)
    with _refused():
        disabled = disable_user(store, name, actor=user.actor)
    end_user_sessions(store, disabled.id)
    request.app.state.sessions.forget_user(disabled.id)
    return _out(disabled, frozenset())
