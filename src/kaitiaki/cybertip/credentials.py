"""The provider's CyberTipline credentials: NCMEC's username and password, encrypted at rest.

Kept in the ``exchange_api_credentials`` table under ``API_NAME`` and sealed with the exchanges'
Fernet key (``kaitiaki.exchanges.secret``), so no new table and no second key. The name is not
an exchange API: HMA's routes list and accept only registered exchange APIs
(``kaitiaki.exchanges.registry.apis``), and an exchange's credentials are looked up by its own
API's name, so neither ever sees this row. The environment (NCMEC's test server unless
production was chosen) is sealed with them. Nothing here is ever logged, audited or put in an
error message but whether the credentials are set and for which environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kaitiaki.audit import record
from kaitiaki.cybertip.client import CyberTiplineClient, base_url_for
from kaitiaki.cybertip.errors import CyberTipError
from kaitiaki.exchanges import secret
from kaitiaki.exchanges.registry import ExchangeError
from kaitiaki.store import Store
from kaitiaki.store.models import ExchangeApiCredentials, utcnow

API_NAME = "ncmec_cybertipline"
ENVIRONMENTS = ("test", "production")


class CredentialsMissingError(CyberTipError):
    """No CyberTipline credentials are set, or they cannot be read with this key."""


@dataclass(frozen=True)
class Connection:
    """Where and as whom to call NCMEC. ``repr`` leaves the password out."""

    environment: str
    base_url: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Connection({self.environment!r}, {self.base_url!r})"

    def client(self, *, timeout: float = 60.0) -> CyberTiplineClient:
        return CyberTiplineClient(self.base_url, self.username, self.password, timeout=timeout)


def parse_credentials(text: str) -> tuple[str, str]:
    """``{"username": ..., "password": ...}`` as read from standard input; the error never
    repeats what was given."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise CyberTipError(
            'credentials must be JSON: {"username": ..., "password": ...}'
        ) from None
    if not isinstance(data, dict) or set(data) != {"username", "password"}:
        raise CyberTipError('credentials must be exactly {"username": ..., "password": ...}')
    username, password = data["username"], data["password"]
    if not (isinstance(username, str) and isinstance(password, str)):
        raise CyberTipError("username and password must be strings")
    if not username.strip() or not password or ":" in username:
        # Basic authentication cannot carry a username with a colon.
        raise CyberTipError("username (without ':') and password must not be empty")
    return username.strip(), password


def set_credentials(
    store: Store, username: str, password: str, *, production: bool, actor: str
) -> str:
    """Seal and store the credentials; the environment they are for. Audited without them."""
    environment = "production" if production else "test"
    sealed = secret.encrypt(
        json.dumps(
            {"username": username, "password": password, "environment": environment},
            sort_keys=True,
        )
    )
    with store.session() as session:
        row = session.get(ExchangeApiCredentials, API_NAME)
        if row is None:
            session.add(ExchangeApiCredentials(api=API_NAME, credentials=sealed, updated_by=actor))
        else:
            row.credentials, row.updated_by, row.updated_at = sealed, actor, utcnow()
        record(
            session,
            actor=actor,
            action="cybertip.credentials_set",
            target_type="cybertip_credentials",
            target_id=API_NAME,
            details={"environment": environment},
        )
    return environment


def clear_credentials(store: Store, *, actor: str) -> bool:
    """Forget the credentials; whether there were any. Audited when there were."""
    with store.session() as session:
        row = session.get(ExchangeApiCredentials, API_NAME)
        if row is None:
            return False
        session.delete(row)
        record(
            session,
            actor=actor,
            action="cybertip.credentials_cleared",
            target_type="cybertip_credentials",
            target_id=API_NAME,
        )
    return True


def load_connection(store: Store) -> Connection:
    """The stored credentials and the base URL they are used against."""
    with store.session() as session:
        sealed = session.get(ExchangeApiCredentials, API_NAME)
        token = None if sealed is None else sealed.credentials
    if token is None:
        raise CredentialsMissingError(
            "no CyberTipline credentials: set them with `kaitiaki report credentials` "
            '(JSON {"username": ..., "password": ...} on standard input)'
        )
    try:
        data = json.loads(secret.decrypt(token))
    except ExchangeError as exc:
        raise CredentialsMissingError(str(exc)) from None
    environment = data.get("environment", "test")
    if environment not in ENVIRONMENTS:
        environment = "test"
    return Connection(
        environment, base_url_for(environment), str(data["username"]), str(data["password"])
    )
