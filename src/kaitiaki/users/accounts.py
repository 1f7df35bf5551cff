"""Local accounts: argon2id password hashes, a password policy, and sign-in that leaks little."""

from __future__ import annotations

import re

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kaitiaki.store import Store
from kaitiaki.store.models import User
from kaitiaki.users.roles import AGENCY_SCOPED, Role

# RFC 9106's second recommended profile (64 MiB, 3 passes, 4 lanes): strong, yet a sign-in stays
# well under a second on a laptop. Raising these later is safe: ``authenticate`` rehashes.
HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID
)

MIN_PASSWORD = 12
# A bound on input, so nobody makes the server hash megabytes per attempt.
MAX_PASSWORD = 1024
_NAME = re.compile(r"[A-Za-z0-9._@-]{3,64}")

_dummy_hash: str | None = None


class UserError(ValueError):
    """A user-management request that cannot be done; the message says why."""


def normalise_name(name: str) -> str:
    """The stored form of a user name: stripped and lower-cased, so ``Alice`` and ``alice``
    can never be two accounts that look alike in the audit log."""
    cleaned = name.strip()
    if not _NAME.fullmatch(cleaned):
        raise UserError(
            f"user name {cleaned!r} must be 3-64 characters of letters, digits and . _ @ -"
        )
    return cleaned.lower()


def parse_role(role: Role | str) -> Role:
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise UserError(
            f"unknown role {role!r}; choose one of: {', '.join(r.value for r in Role)}"
        ) from None


def check_password(name: str, password: str) -> None:
    """Refuse a password that breaks the policy; ``name`` is the normalised user name."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"password must be at most {MAX_PASSWORD} characters")
    if password.strip().casefold() == name.casefold():
        raise UserError("password must not be the user name")


def _agency_for(role: Role, agency: str | None) -> str | None:
    cleaned = agency.strip() if agency else None
    if role in AGENCY_SCOPED and not cleaned:
        raise UserError(f"a {role} account needs --agency: it sees only that agency's referrals")
    if role not in AGENCY_SCOPED and cleaned:
        raise UserError(f"a {role} account has no agency; only a liaison belongs to one")
    if cleaned and len(cleaned) > 200:
        raise UserError("agency name must be at most 200 characters")
    return cleaned


def _find(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).one_or_none()


def _get(session: Session, name: str) -> User:
    user = _find(session, normalise_name(name))
    if user is None:
        raise UserError(f"no user named {name.strip()!r}")
    return user


def add_user(
    store: Store, name: str, role: Role | str, password: str, *, agency: str | None = None
) -> User:
    """Create an account; every check runs before anything is written."""
    name = normalise_name(name)
    parsed = parse_role(role)
    agency = _agency_for(parsed, agency)
    check_password(name, password)
    password_hash = HASHER.hash(password)
    try:
        with store.session() as session:
            if _find(session, name) is not None:
                raise UserError(f"a user named {name!r} already exists")
            user = User(name=name, role=parsed.value, agency=agency, password_hash=password_hash)
            session.add(user)
            session.flush()
    except IntegrityError:
        # Two concurrent adds of one name: the unique constraint settles it.
        raise UserError(f"a user named {name!r} already exists") from None
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = HASHER.hash("kaitiaki-no-such-user-dummy-password")
    return _dummy_hash


def authenticate(store: Store, name: str, password: str) -> User | None:
    """The user if ``password`` is theirs and the account is enabled, else None.

    An unknown name still costs one argon2 verification, so response time does not tell an
    attacker which names exist. Hashes made with older parameters are upgraded on success."""
    if len(password) > MAX_PASSWORD:
        # No stored password is this long; verify a bounded prefix only to spend the usual time.
        _verify(_dummy(), password[:MAX_PASSWORD])
        return None
    try:
        normalised = normalise_name(name)
    except UserError:
        _verify(_dummy(), password)
        return None
    with store.session() as session:
        user = _find(session, normalised)
        if user is None:
            _verify(_dummy(), password)
            return None
        if not _verify(user.password_hash, password) or user.disabled:
            return None
        if HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = HASHER.hash(password)
    return user


def set_password(store: Store, name: str, password: str) -> None:
    """Replace a user's password, under the same policy as a new account."""
    normalised = normalise_name(name)
    check_password(normalised, password)
    password_hash = HASHER.hash(password)
    with store.session() as session:
        _get(session, normalised).password_hash = password_hash


def _enabled_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.disabled.is_(False))
        )
        or 0
    )


def disable_user(store: Store, name: str) -> User:
    """Disable an account (kept, never deleted, so the audit log's names stay meaningful)."""
    with store.session() as session:
        user = _get(session, name)
        if user.disabled:
            return user
        # Disabling the last admin would leave nobody able to manage users.
        if user.role == Role.ADMIN and _enabled_admins(session) <= 1:
            raise UserError(f"{user.name!r} is the last enabled admin; add another admin first")
        user.disabled = True
    return user


def list_users(store: Store) -> list[User]:
    with store.session() as session:
        return list(session.scalars(select(User).order_by(User.name)))
