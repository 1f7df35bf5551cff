"""``/api/trust``: the trust store of partners' public keys (as ``kaitiaki keys trust``).

A thin adapter over ``refer.trust``. Trusting a key decides whose signature proves a package's
origin, an access decision like adding a user: adding and removing need ``manage_users``
(admins). The list needs ``view_users``, the permission of the other list of who may act in
the system (the users): admins, investigators (who verify what partners send) and auditors;
not a reviewer, and not a liaison, to whom the names of every other partner would be other
jurisdictions' business.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from kaitiaki.refer import trust
from kaitiaki.refer.signing import MAX_KEY_FILE
from kaitiaki.web.api.common import PathKey, Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api/trust", tags=["trust store"])


class TrustedKeyOut(BaseModel):
    name: str
    fingerprint: str
    added_by: str
    added_at: Timestamp
    note: str
    # "CC:Agency" pairs the partner answers for: its outcome files count only for these.
    jurisdictions: list[str]


class TrustedKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=trust.MAX_NAME)
    # The partner's Ed25519 public key as PEM text ("-----BEGIN PUBLIC KEY-----" ...).
    public_key_pem: str = Field(min_length=1, max_length=MAX_KEY_FILE)
    note: str = Field(default="", max_length=trust.MAX_NOTE)
    jurisdictions: list[Annotated[str, Field(min_length=1, max_length=210)]] = Field(
        default_factory=list, max_length=100
    )


def _out(sender: trust.TrustedSender) -> TrustedKeyOut:
    return TrustedKeyOut.model_validate(sender, from_attributes=True)


@router.get("", response_model=list[TrustedKeyOut], responses=errors())
def trusted_keys(request: Request, user: CurrentUser = Needs.VIEW_USERS) -> list[TrustedKeyOut]:
    """Every trusted key: name, fingerprint, who added it and when."""
    return [_out(s) for s in trust.list_trusted_keys(store_of(request))]


@router.post("", response_model=TrustedKeyOut, status_code=201, responses=errors(409))
def trust_add(
    body: TrustedKeyIn, request: Request, user: CurrentUser = Needs.MANAGE_USERS
) -> TrustedKeyOut:
    """Trust a partner's public key under a name (audited). A name or key already trusted is
    409; text that is not an Ed25519 PEM public key is 422."""
    try:
        added = trust.add_trusted_pem(
            store_of(request),
            body.name,
            body.public_key_pem.encode("utf-8"),
            actor=user.actor,
            note=body.note,
            where="public_key_pem",
            jurisdictions=body.jurisdictions,
        )
    except trust.TrustConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except trust.TrustError as exc:  # not a key, a private key, a name that cannot be used
        raise HTTPException(422, str(exc)) from None
    return _out(added)


@router.delete("/{name}", response_model=TrustedKeyOut, responses=errors(404))
def trust_remove(
    name: PathKey, request: Request, user: CurrentUser = Needs.MANAGE_USERS
) -> TrustedKeyOut:
    """Stop trusting a key: packages it signs then verify as from an unknown sender."""
    try:
        removed = trust.remove_trusted_key(store_of(request), name, actor=user.actor)
    except trust.TrustError as exc:  # none by that name, or a name no key can have
        raise HTTPException(404, str(exc)) from None
    return _out(removed)
