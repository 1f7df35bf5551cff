"""Credentials set for a whole exchange API, as HMA sets them (``/c/exchanges/api/<name>``).

HMA keeps one set of credentials per API, not per exchange: a client sets NCMEC's user and
password once, then adds NCMEC exchanges without any. Here an exchange's own credentials (given
when it was added) come first; one without uses its API's. The API's are the credential
class's fields as JSON (HMA's ``credential_json``), checked against that class before they are
stored, encrypted like an exchange's (``secret``), and never returned, logged or audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.exchanges import secret
from kaitiaki.exchanges.registry import (
    Credentials,
    api_class,
    credentials_from_json,
    needs_credentials,
)
from kaitiaki.store import Store
from kaitiaki.store.models import Exchange, ExchangeApiCredentials, utcnow


@dataclass(frozen=True)
class ApiCredentialsView:
    """HMA's answer, in its spelling: whether the API takes credentials, whether they are set."""

    api: str
    supports_authentification: bool
    has_set_authentification: bool


def api_credentials_status(store: Store, api: str) -> ApiCredentialsView:
    api_cls = api_class(api)
    with store.session() as session:
        stored = session.get(ExchangeApiCredentials, api) is not None
    return ApiCredentialsView(api, needs_credentials(api_cls), stored)


def set_api_credentials(
    store: Store, api: str, data: dict[str, Any] | None, *, actor: str
) -> ApiCredentialsView:
    """Store ``data`` (checked, then encrypted) as ``api``'s credentials, or clear them when
    ``data`` is empty. Audited: whether they were set or cleared, never what they are."""
    api_cls = api_class(api)
    sealed = None
    if data:
        credentials_from_json(api_cls, data)
        sealed = secret.encrypt(json.dumps(data, sort_keys=True))
    with store.session() as session:
        row = session.get(ExchangeApiCredentials, api)
        if sealed is not None:
            if row is None:
                row = ExchangeApiCredentials(api=api, credentials=sealed, updated_by=actor)
                session.add(row)
            else:
                row.credentials, row.updated_by, row.updated_at = sealed, actor, utcnow()
        elif row is not None:
            session.delete(row)
        if sealed is not None or row is not None:
            record(
                session,
                actor=actor,
                action="exchange_api.credentials_set"
                if sealed
                else "exchange_api.credentials_cleared",
                target_type="exchange_api",
                target_id=api,
                details={"api": api},
            )
    return ApiCredentialsView(api, needs_credentials(api_cls), sealed is not None)


def has_api_credentials(session: Session, api: str) -> bool:
    return session.get(ExchangeApiCredentials, api) is not None


def exchange_credentials(session: Session, row: Exchange) -> Credentials | None:
    """The credentials a fetch or feedback of ``row`` uses: its own, else its API's."""
    if row.credentials:
        return secret.decrypt(row.credentials)
    stored = session.scalar(
        select(ExchangeApiCredentials.credentials).where(ExchangeApiCredentials.api == row.api)
    )
    if stored is None:
        return None
    found: dict[str, Any] = json.loads(secret.decrypt(stored))
    return found
