"""The trust store: partners' Ed25519 public keys, and verifying a received package against it.

A package carries its own public key, which proves only that nobody altered it after whoever
signed it; a forger re-signs with their own key and swaps it in. Origin needs a key the receiver
already holds: one exchanged out of band (fingerprint read over the phone) and added here by a
person, with an audit entry. ``verify_received`` checks the signature against these keys and
never against the key inside the package, unless the caller pins one explicitly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kaitiaki.audit import record
from kaitiaki.refer.signing import (
    MAX_KEY_FILE,
    SigningKeyError,
    VerifyResult,
    fingerprint_hex,
    package_key,
    public_from_pem,
    public_pem,
    read_key_file,
    signature_matches,
    verify_package,
    verify_with_key,
)
from kaitiaki.store import Store
from kaitiaki.store.models import TrustedKey
from kaitiaki.users.scope import JurisdictionError, jurisdiction_set, parse_jurisdiction

MAX_NAME = 100  # the column's width
MAX_NOTE = 1000
TARGET = "trusted_key"


class TrustError(ValueError):
    """A trust-store change that cannot be made; the message says why."""


class TrustConflictError(TrustError):
    """The name or the key is already trusted."""


class TrustNotFoundError(TrustError):
    """No key is trusted under that name."""


@dataclass(frozen=True)
class TrustedSender:
    name: str
    fingerprint: str
    added_by: str
    added_at: datetime
    note: str
    # "CC:Agency" pairs the partner answers for (outcome files are accepted only for these).
    jurisdictions: tuple[str, ...] = ()

    @staticmethod
    def of(row: TrustedKey) -> TrustedSender:
        return TrustedSender(
            row.name,
            row.fingerprint,
            row.added_by,
            row.added_at,
            row.note,
            tuple(row.jurisdictions or ()),
        )


@dataclass(frozen=True)
class TrustedPublicKey:
    """A trusted key ready to verify with."""

    name: str
    fingerprint: str
    key: Ed25519PublicKey
    jurisdictions: tuple[str, ...]


def _name(name: str) -> str:
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise TrustError("a trusted key needs a name (the partner agency or person)")
    if len(cleaned) > MAX_NAME:
        raise TrustError(f"name must be at most {MAX_NAME} characters")
    # Control, format (zero-width) and unassigned characters would let two names look alike,
    # or move the cursor when a list is printed on a terminal.
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise TrustError(f"name {cleaned!r} holds control or invisible characters")
    return cleaned


def _actor(actor: str) -> str:
    if not actor.strip():
        raise TrustError("a trust-store change needs the acting user")
    return actor


def _jurisdictions(values: Sequence[str]) -> list[str]:
    try:
        return sorted(str(j) for j in jurisdiction_set(parse_jurisdiction(v) for v in values))
    except JurisdictionError as exc:
        raise TrustError(str(exc)) from None


def add_trusted_key(
    store: Store,
    name: str,
    key_file: Path,
    *,
    actor: str,
    note: str = "",
    jurisdictions: Sequence[str] = (),
) -> TrustedSender:
    """Trust the Ed25519 public key in ``key_file`` under ``name``; audited as ``actor``.

    Refuses a file that is not an Ed25519 PEM public key, a name already used (ignoring case,
    so two entries cannot look alike) and a key already trusted under another name (a key
    belongs to one sender, or ``verify`` could not say who signed)."""
    actor = _actor(actor)
    _name(name)  # a bad name is told before the file is read
    try:
        pem = read_key_file(key_file)
    except SigningKeyError as exc:
        raise TrustError(str(exc)) from None
    return add_trusted_pem(
        store,
        name,
        pem,
        actor=actor,
        note=note,
        where=str(key_file),
        jurisdictions=jurisdictions,
    )


def add_trusted_pem(
    store: Store,
    name: str,
    pem: bytes,
    *,
    actor: str,
    note: str = "",
    where: str = "the key",
    jurisdictions: Sequence[str] = (),
) -> TrustedSender:
    """``add_trusted_key`` for a key given as PEM text (the web's form); ``where`` names it in
    messages."""
    actor = _actor(actor)
    cleaned = _name(name)
    if len(note) > MAX_NOTE:
        raise TrustError(f"note must be at most {MAX_NOTE} characters")
    bound = _jurisdictions(jurisdictions)
    if len(pem) > MAX_KEY_FILE:
        raise TrustError(f"{where}: larger than {MAX_KEY_FILE} bytes; not a PEM public key")
    try:
        key = public_from_pem(pem, where)
    except SigningKeyError as exc:
        raise TrustError(str(exc)) from None
    digest = fingerprint_hex(key)
    try:
        with store.session() as session:
            for row in session.scalars(select(TrustedKey)):
                if row.name.casefold() == cleaned.casefold():
                    raise TrustConflictError(
                        f"a key is already trusted under the name {row.name!r}"
                    )
                if row.fingerprint == digest:
                    raise TrustConflictError(
                        f"{where}: this key (fingerprint {digest}) is already trusted "
                        f"as {row.name!r}"
                    )
            # Stored re-encoded, not as given: no comments or trailing bytes from the file.
            row = TrustedKey(
                name=cleaned,
                fingerprint=digest,
                public_key_pem=public_pem(key).decode("ascii"),
                added_by=actor,
                note=note.strip(),
                jurisdictions=bound or None,
            )
            session.add(row)
            session.flush()
            record(
                session,
                actor=actor,
                action="trust.key_added",
                target_type=TARGET,
                target_id=cleaned,
                details={"fingerprint": digest, "note": row.note, "jurisdictions": bound},
            )
            return TrustedSender.of(row)
    except IntegrityError:
        # A concurrent add of the same name or key: the unique constraints settle it.
        raise TrustConflictError(f"{cleaned!r} or its key was trusted at the same moment") from None


def remove_trusted_key(store: Store, name: str, *, actor: str) -> TrustedSender:
    """Stop trusting ``name``'s key: packages it signed verify as from an unknown sender."""
    actor = _actor(actor)
    cleaned = _name(name)
    with store.session() as session:
        row = session.get(TrustedKey, cleaned)
        if row is None:
            raise TrustNotFoundError(f"no trusted key named {cleaned!r}")
        removed = TrustedSender.of(row)
        session.delete(row)
        record(
            session,
            actor=actor,
            action="trust.key_removed",
            target_type=TARGET,
            target_id=cleaned,
            details={"fingerprint": removed.fingerprint},
        )
    return removed


def list_trusted_keys(store: Store) -> list[TrustedSender]:
    with store.session() as session:
        return [TrustedSender.of(r) for r in session.scalars(select(TrustedKey).order_by("name"))]


def trusted_keys(store: Store) -> list[TrustedPublicKey]:
    """Every trusted key, loaded, with the jurisdictions its partner answers for."""
    with store.session() as session:
        rows = [
            (r.name, r.fingerprint, r.public_key_pem, tuple(r.jurisdictions or ()))
            for r in session.scalars(select(TrustedKey))
        ]
    return [
        TrustedPublicKey(n, f, public_from_pem(pem.encode("ascii"), f"trusted key {n!r}"), j)
        for n, f, pem, j in rows
    ]


def _trusted(store: Store) -> list[tuple[str, str, Ed25519PublicKey]]:
    with store.session() as session:
        rows = [
            (r.name, r.fingerprint, r.public_key_pem) for r in session.scalars(select(TrustedKey))
        ]
    return [
        (n, f, public_from_pem(pem.encode("ascii"), f"trusted key {n!r}")) for n, f, pem in rows
    ]


def _signer(
    folder: Path, trusted: Sequence[tuple[str, str, Ed25519PublicKey]]
) -> tuple[str, Ed25519PublicKey] | None:
    """The trusted key that made the signature. The package's own key only says which to try
    first: a genuine package whose key file was swapped or lost still finds its sender."""
    try:
        carried = fingerprint_hex(package_key(folder))
    except SigningKeyError:
        carried = ""
    ordered = sorted(trusted, key=lambda t: t[1] != carried)
    for name, _, key in ordered:
        if signature_matches(folder, key):
            return name, key
    return None


def verify_received(
    store: Store | None, folder: Path, *, pinned: Path | None = None
) -> VerifyResult:
    """Check a received package's files and signature, and who signed it.

    With ``pinned`` the signature is checked against that key alone. Otherwise against the
    trust store: a match gives ``key_source == "trusted"`` and the sender's name; no match
    falls back to the package's own key, so the result still says whether the files are
    intact, with ``origin_proven`` False (an unknown sender)."""
    if pinned is not None:
        return verify_package(folder, pinned)
    if store is None:
        raise TrustError("verifying against the trust store needs the store")
    found = _signer(folder, _trusted(store))
    if found is None:
        return verify_package(folder)
    return verify_with_key(folder, found[1], sender=found[0])
