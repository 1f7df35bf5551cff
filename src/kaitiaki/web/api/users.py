"""``/api/users``: accounts of the people working the operation (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from kaitiaki.audit import record
from kaitiaki.store import Store
from kaitiaki.users import UserError, add_user, disable_user, list_users
from kaitiaki.users.roles import Role
from kaitiaki.web.api.common import Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.sessions import end_user_sessions

router = APIRouter(prefix="/api/users", tags=["users"])


class UserOut(BaseModel):
    name: str
    role: str
    agency: str | None
    disabled: bool
    created_at: Timestamp


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    password: str = Field(min_length=1, max_length=1024)
    agency: str | None = Field(default=None, max_length=200)


def users(store: Store) -> list[UserOut]:
    return [
        UserOut(
            name=u.name, role=u.role, agency=u.agency, disabled=u.disabled, created_at=u.created_at
        )
        for u in list_users(store)
    ]


def _audit(
    store: Store, user: CurrentUser, action: str, name: str, details: dict[str, object]
) -> None:
    with store.session() as session:
        record(
            session,
            actor=user.actor,
            action=action,
            target_type="user",
            target_id=name,
            details=details,
        )


@router.get("", response_model=list[UserOut], responses=errors())
def users_list(request: Request, user: CurrentUser = Needs.VIEW_USERS) -> list[UserOut]:
    return users(store_of(request))


@router.post("", response_model=UserOut, status_code=201, responses=errors(400))
def users_add(body: UserIn, request: Request, user: CurrentUser = Needs.MANAGE_USERS) -> UserOut:
    store = store_of(request)
    try:
        added = add_user(store, body.name, body.role, body.password, agency=body.agency)
    except UserError as exc:
        raise HTTPException(400, str(exc)) from None
    _audit(store, user, "user.added", added.name, {"role": added.role, "agency": added.agency})
    return UserOut(
        name=added.name,
        role=added.role,
        agency=added.agency,
        disabled=added.disabled,
        created_at=added.created_at,
    )


@router.post("/{name}/disable", response_model=UserOut, responses=errors(400))
def users_disable(
    request: Request,
    name: str = Path(max_length=100),
    user: CurrentUser = Needs.MANAGE_USERS,
) -> UserOut:
    """Disable an account and end its sessions (accounts are never deleted)."""
    store = store_of(request)
    try:
        disabled = disable_user(store, name)
    except UserError as exc:
        raise HTTPException(400, str(exc)) from None
    end_user_sessions(store, disabled.id)
    request.app.state.sessions.forget_user(disabled.id)
    _audit(store, user, "user.disabled", disabled.name, {})
    return UserOut(
        name=disabled.name,
        role=disabled.role,
        agency=disabled.agency,
        disabled=disabled.disabled,
        created_at=disabled.created_at,
    )
