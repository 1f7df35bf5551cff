"""API tokens for machine clients (the HMA-compatible API, exchanges): made and revoked by an
admin, each with scopes, stored as a SHA-256 only, shown once at creation."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kaitiaki.audit import record
from kaitiaki.audit.log import utc
from kaitiaki.store import Store
from kaitiaki.store.models import ApiToken

SCOPES = ("hash", "match", "curate", "exchange")
PREFIX = "kt_"
# "kt_" + token_urlsafe(32): 32 random bytes are 43 URL-safe base64 characters.
_RAW = re.compile(r"kt_[A-Za-z0-9_-]{43}")
# Anything longer is refused before any work: no hashing of megabytes per request.
MAX_RAW = 64
_NAME = re.compile(r"[A-Za-z0-9._@-]{3,64}")
# last_used_at is advisory ("is this token still in use?"): writing it at most once a minute
# keeps a busy client from turning every read-only lookup into a database write.
TOUCH_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """A token request that cannot be done; the message says why."""


class TokenNotFoundError(TokenError):
    """The named token does not exist (the web answers 404)."""


@dataclass(frozen=True)
class ApiTokenView:
    name: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class TokenPrincipal:
    """Who a request with a valid token is: the token's name and what it may do."""

    name: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        """How the audit log names a token's calls, beside ``web:<user>`` and ``cli:<user>``."""
        return f"token:{self.name}"

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def _view(token: ApiToken) -> ApiTokenView:
    def at(value: datetime | None) -> datetime | None:
        return utc(value) if value is not None else None

    return ApiTokenView(
        token.name,
        tuple(str(s) for s in token.scopes),
        token.created_by,
        utc(token.created_at),
        token.revoked_by,
        at(token.revoked_at),
        at(token.last_used_at),
    )


def normalise_token_name(name: str) -> str:
    cleaned = name.strip()
    if not _NAME.fullmatch(cleaned):
        raise TokenError(
            f"token name {cleaned!r} must be 3-64 characters of letters, digits and . _ @ -"
        )
    return cleaned.lower()


def parse_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes in their canonical order, duplicates dropped; unknown or none refused."""
    given = {s.strip().lower() for s in scopes}
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise TokenError(
            f"unknown scope {', '.join(map(repr, unknown))}; choose from: {', '.join(SCOPES)}"
        )
    if not given:
        raise TokenError(f"a token needs at least one scope: {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in given)


def create_token(
    store: Store, name: str, scopes: Iterable[str], *, actor: str
) -> tuple[ApiTokenView, str]:
    """Make a token (audited as ``actor``, never with the token itself); returns it raw, the
    only time it exists outside the caller's hands."""
    name = normalise_token_name(name)
    parsed = parse_scopes(scopes)
    raw = PREFIX + secrets.token_urlsafe(32)
    try:
        with store.session() as session:
            if session.scalars(select(ApiToken.id).where(ApiToken.name == name)).first():
                raise TokenError(f"a token named {name!r} already exists")
            token = ApiToken(
                name=name, token_sha256=_digest(raw), scopes=list(parsed), created_by=actor
            )
            session.add(token)
            session.flush()
            record(
                session,
                actor=actor,
                action="token.created",
                target_type="api_token",
                target_id=name,
                details={"scopes": list(parsed)},
            )
            view = _view(token)
    except IntegrityError:
        # Two concurrent creates of one name: the unique constraint settles it.
        raise TokenError(f"a token named {name!r} already exists") from None
    return view, raw


def list_tokens(store: Store) -> list[ApiTokenView]:
    with store.session() as session:
        return [_view(t) for t in session.scalars(select(ApiToken).order_by(ApiToken.name))]


def revoke_token(store: Store, name: str, *, actor: str) -> ApiTokenView:
    """Revoke a token for good (audited); revoking a revoked token is refused, so the log
    shows one revocation."""
    name = normalise_token_name(name)
    with store.session() as session:
        token = session.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if token is None:
            raise TokenNotFoundError(f"no token named {name!r}")
        if token.revoked_at is not None:
            raise TokenError(f"token {name!r} is already revoked")
        token.revoked_at = datetime.now(UTC)
        token.revoked_by = actor
        record(
            session,
            actor=actor,
            action="token.revoked",
            target_type="api_token",
            target_id=name,
            details={"scopes": list(token.scopes)},
        )
        session.flush()
        return _view(token)


def authenticate_token(store: Store, raw: str | None) -> TokenPrincipal | None:
    """The principal of a live token, or None for a missing, malformed, unknown or revoked one.

    There is no secret comparison here to time: the lookup is by the SHA-256 of what was sent,
    so how long an index search takes depends on the digest, which an attacker cannot steer
    towards a real token's digest without already knowing that token (preimage resistance).
    """
    if not raw or len(raw) > MAX_RAW or not _RAW.fullmatch(raw):
        return None
    now = datetime.now(UTC)
    with store.session() as session:
        token = session.scalars(
            select(ApiToken).where(
                ApiToken.token_sha256 == _digest(raw), ApiToken.revoked_at.is_(None)
            )
        ).first()
        if token is None:
            return None
        if token.last_used_at is None or now - utc(token.last_used_at) >= TOUCH_EVERY:
            session.execute(
                update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
            )
        return TokenPrincipal(token.name, frozenset(str(s) for s in token.scopes))
