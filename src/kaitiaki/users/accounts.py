"""Local accounts: argon2id password hashes, a password policy, and sign-in that leaks little."""

from __future__ import annotations

import re
from collections.abc import Iterable

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.store import Store
from kaitiaki.store.models import User, UserJurisdiction, WebSession
from kaitiaki.users.roles import JURISDICTION_SCOPED, Role
from kaitiaki.users.scope import Jurisdiction, jurisdiction_set

# RFC 9106's second recommended profile (64 MiB, 3 passes, 4 lanes): strong, yet a sign-in stays
# well under a second on a laptop. Raising these later is safe: ``authenticate`` rehashes.
HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID
)

MIN_PASSWORD = 12
# A bound on input, so nobody makes the server hash megabytes per attempt.
MAX_PASSWORD = 1024
# A liaison works for a handful of agencies; a bound keeps a session's scope small.
MAX_JURISDICTIONS = 50
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


def _jurisdictions_for(role: Role, pairs: Iterable[Jurisdiction]) -> frozenset[Jurisdiction]:
    found = jurisdiction_set(pairs)
    if role in JURISDICTION_SCOPED and not found:
        raise UserError(
            f"a {role} account needs --jurisdiction COUNTRY:AGENCY: "
            "it sees only the referrals of its jurisdictions"
        )
    if role not in JURISDICTION_SCOPED and found:
        raise UserError(f"a {role} account has no jurisdiction; only a liaison works for one")
    if len(found) > MAX_JURISDICTIONS:
        raise UserError(f"at most {MAX_JURISDICTIONS} jurisdictions per account")
    return found


def _described(pairs: Iterable[Jurisdiction]) -> list[str]:
    return [str(p) for p in sorted(pairs)]


def _store_jurisdictions(session: Session, user_id: int, pairs: frozenset[Jurisdiction]) -> None:
    session.execute(delete(UserJurisdiction).where(UserJurisdiction.user_id == user_id))
    session.add_all(
        UserJurisdiction(user_id=user_id, country=p.country, agency=p.agency) for p in pairs
    )


def jurisdictions_of(
    session: Session, user_ids: Iterable[int]
) -> dict[int, frozenset[Jurisdiction]]:
    """Each user's (country, agency) pairs, read in one query."""
    ids = list(user_ids)
    found: dict[int, set[Jurisdiction]] = {i: set() for i in ids}
    if ids:
        rows = session.execute(
            select(
                UserJurisdiction.user_id, UserJurisdiction.country, UserJurisdiction.agency
            ).where(UserJurisdiction.user_id.in_(ids))
        )
        for user_id, country, agency in rows:
            found[user_id].add(Jurisdiction(country, agency))
    return {i: frozenset(pairs) for i, pairs in found.items()}


def _find(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).one_or_none()


def _get(session: Session, name: str) -> User:
    user = _find(session, normalise_name(name))
    if user is None:
        raise UserError(f"no user named {name.strip()!r}")
    return user


def add_user(
    store: Store,
    name: str,
    role: Role | str,
    password: str,
    *,
    actor: str,
    jurisdictions: Iterable[Jurisdiction] = (),
) -> User:
    """Create an account (audited as ``actor``); every check runs before anything is written.
    A liaison needs at least one jurisdiction; no other role has one."""
    name = normalise_name(name)
    parsed = parse_role(role)
    pairs = _jurisdictions_for(parsed, jurisdictions)
    check_password(name, password)
    password_hash = HASHER.hash(password)
    try:
        with store.session() as session:
            if _find(session, name) is not None:
                raise UserError(f"a user named {name!r} already exists")
            user = User(name=name, role=parsed.value, agency=None, password_hash=password_hash)
            session.add(user)
            session.flush()
            _store_jurisdictions(session, user.id, pairs)
            record(
                session,
                actor=actor,
                action="user.added",
                target_type="user",
                target_id=name,
                details={"role": parsed.value, "jurisdictions": _described(pairs)},
            )
    except IntegrityError:
        # Two concurrent adds of one name: the unique constraint settles it.
        raise UserError(f"a user named {name!r} already exists") from None
    return user


def set_jurisdictions(
    store: Store, name: str, jurisdictions: Iterable[Jurisdiction], *, actor: str
) -> tuple[User, frozenset[Jurisdiction]]:
    """Replace a liaison's jurisdictions (audited as ``actor``, old and new pairs). Takes
    effect on the liaison's next request (within the session cache's few seconds)."""
    with store.session() as session:
        user = _get(session, name)
        pairs = _jurisdictions_for(Role(user.role), jurisdictions)
        if Role(user.role) not in JURISDICTION_SCOPED:
            raise UserError(
                f"a {user.role} account has no jurisdiction; only a liaison works for one"
            )
        before = jurisdictions_of(session, [user.id])[user.id]
        if before == pairs:
            return user, pairs
        _store_jurisdictions(session, user.id, pairs)
        record(
            session,
            actor=actor,
            action="user.jurisdiction",
            target_type="user",
            target_id=user.name,
            details={"from": _described(before), "to": _described(pairs)},
        )
    return user, pairs


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


def set_password(store: Store, name: str, password: str, *, actor: str) -> None:
    """Replace a user's password, under the same policy as a new account, and end every web
    session of the account in the same transaction: a password is changed because it may be
    known to someone else, who may already be signed in with it. (Passwords are changed with
    ``kaitiaki users passwd``, never from a web session, so there is no session to keep.)
    Audited as ``actor`` in that transaction (never the password or its hash)."""
    if not actor.strip():
        raise ValueError("actor: changing a password needs the name of who changes it")
    normalised = normalise_name(name)
    check_password(normalised, password)
    password_hash = HASHER.hash(password)
    with store.session() as session:
        user = _get(session, normalised)
        user.password_hash = password_hash
        ended = session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        record(
            session,
            actor=actor,
            action="user.password_changed",
            target_type="user",
            target_id=user.name,
            details={"sessions_ended": getattr(ended, "rowcount", None)},
        )


def _enabled_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.disabled.is_(False))
        )
        or 0
    )


def disable_user(store: Store, name: str, *, actor: str) -> User:
    """Disable an account (kept, never deleted, so the audit log's names stay meaningful);
    audited as ``actor``. Disabling a disabled account changes nothing and records nothing."""
    with store.session() as session:
        user = _get(session, name)
        if user.disabled:
            return user
        # Disabling the last admin would leave nobody able to manage users.
        if user.role == Role.ADMIN and _enabled_admins(session) <= 1:
            raise UserError(f"{user.name!r} is the last enabled admin; add another admin first")
        user.disabled = True
        record(
            session, actor=actor, action="user.disabled", target_type="user", target_id=user.name
        )
    return user


def list_users(store: Store) -> list[User]:
    with store.session() as session:
        return list(session.scalars(select(User).order_by(User.name)))


def list_users_with_jurisdictions(store: Store) -> list[tuple[User, frozenset[Jurisdiction]]]:
    """Every user by name, with its jurisdictions (empty for every role but liaison)."""
    with store.session() as session:
        users = list(session.scalars(select(User).order_by(User.name)))
        pairs = jurisdictions_of(session, [u.id for u in users])
    return [(u, pairs[u.id]) for u in users]


def jurisdictions_by_name(store: Store, name: str) -> frozenset[Jurisdiction]:
    with store.session() as session:
        user = _get(session, name)
        return jurisdictions_of(session, [user.id])[user.id]
