"""Server-side sessions: the cookie carries a random token, the store only its SHA-256.

A stolen database therefore holds no usable session. A session ends when idle for
``session_idle``, in any case ``session_absolute`` after sign-in, when its user is disabled, or
on sign-out; signing in always starts a new session (no fixation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.audit.log import utc
from kaitiaki.store import Store
from kaitiaki.store.models import User, WebSession
from kaitiaki.users.accounts import jurisdictions_of
from kaitiaki.users.scope import Jurisdiction
from kaitiaki.web.settings import WebSettings

COOKIE = "kaitiaki_session"
# Writing last_seen on every request would turn each page view into a write; a minute of
# slack on a 30-minute idle limit is harmless.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionUser:
    """Who a valid session belongs to, read once per request."""

    user_id: int
    name: str
    role: str
    # Read with the session, so scoping each referral needs no query of its own.
    jurisdictions: frozenset[Jurisdiction]
    token_sha256: str
    csrf_token: str
    expires_at: datetime | None = None  # aware UTC; when the session ends in any case


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(
    store: Store,
    user_id: int,
    client: str,
    settings: WebSettings,
    *,
    replaces: str | None = None,
    audit_as: tuple[str, str],
) -> tuple[str, str]:
    """A new session for ``user_id`` (ending ``replaces``, the old cookie's token, if given);
    returns the cookie token and the CSRF token. ``audit_as`` is (actor, user name): the
    sign-in's audit entry is written in the transaction that creates the session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with store.session() as session:
        if replaces:
            session.execute(
                delete(WebSession).where(WebSession.token_sha256 == token_hash(replaces))
            )
        # Expired sessions are swept here, at sign-in, rather than by a timer.
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                token_sha256=token_hash(token),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + settings.session_absolute,
                client=client[:200],
            )
        )
        _audit(session, "login", audit_as, client)
    return token, csrf


def _audit(session: Session, action: str, audit_as: tuple[str, str], client: str) -> None:
    actor, name = audit_as
    record(
        session,
        actor=actor,
        action=action,
        target_type="user",
        target_id=name,
        details={"client": client},
    )


def load_session(store: Store, token: str, settings: WebSettings) -> SessionUser | None:
    """The session's user if the token names a live session of an enabled user, else None."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    now = datetime.now(UTC)
    with store.session() as session:
        found = session.get(WebSession, digest)
        if found is None:
            return None
        user = session.get(User, found.user_id)
        idle = now - utc(found.last_seen_at)
        if (
            user is None
            or user.disabled
            or utc(found.expires_at) <= now
            or idle > settings.session_idle
        ):
            session.delete(found)
            return None
        if idle > _TOUCH_EVERY:
            found.last_seen_at = now
        return SessionUser(
            user.id,
            user.name,
            user.role,
            jurisdictions_of(session, [user.id])[user.id],
            digest,
            found.csrf_token,
            utc(found.expires_at),
        )


def end_session(store: Store, token: str, *, audit_as: tuple[str, str], client: str) -> None:
    """Sign out: the session ends and the entry saying so is written in one transaction."""
    with store.session() as session:
        session.execute(delete(WebSession).where(WebSession.token_sha256 == token_hash(token)))
        _audit(session, "logout", audit_as, client)


def end_user_sessions(store: Store, user_id: int) -> None:
    """Sign a user out everywhere (after disabling the account or changing its password)."""
    with store.session() as session:
        session.execute(delete(WebSession).where(WebSession.user_id == user_id))
