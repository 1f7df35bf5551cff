"""Deconfliction: finding shared subjects without sharing identifiers.

Within kaitiaki a subject is referred once (``referral_subjects`` is keyed by subject id;
``referred_subjects`` reports which are taken). Between agencies and operations, each side exports
a *pointer file*: HMAC-SHA256 pointers (``kaitiaki.accounts.hmac_identifier``) of the normalised
emails, E.164 phones, account ids and device ids of its subjects' accounts, under a secret key the
agencies agreed on. Without the key a pointer reveals nothing; with it, a party can only confirm
values it already holds. The pointers are sorted and deduplicated, so their order says nothing
about which identifiers belong together or how many a subject has.

Checking another side's file recomputes our pointers with the same key and intersects. A hit names
only the other side's contact reference and operation, and *our* subject/account and identifier
kind that matched: the two sides then talk through their contacts.

Account ids are pointed to without their platform, because two agencies may name one platform
differently; a hit on kind ``account`` is therefore a lead to confirm with the other side, as is
every hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from kaitiaki.accounts import (
    hmac_identifier,
    normalise_device_id,
    normalise_email,
    normalise_phone,
)
from kaitiaki.records import ingested_files
from kaitiaki.store import Store
from kaitiaki.store.models import Account, ReferralSubject, Subject

FORMAT = "kaitiaki-pointers"
VERSION = 1
ALGORITHM = "HMAC-SHA256"
KEY_ENV = "KAITIAKI_POINTER_KEY"
# A short shared secret could be guessed, and with it every phone number could be confirmed.
MIN_KEY_BYTES = 16
_HEX64 = re.compile(r"[0-9a-f]{64}")


class PointerError(ValueError):
    """A pointer file or key that cannot be used; the message says why."""


class PointerKeyMismatchError(PointerError):
    """The two files were made under different keys: no comparison is possible (nor leaks)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One of our accounts matches the other side; nothing about their identifiers is known."""

    contact_reference: str
    operation: str
    subject_id: str
    account_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class _Origin:
    subject_id: str
    account_id: str
    kind: str


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key, so two files can be seen to share it."""
    return hashlib.sha256(key).hexdigest()[:8]


def check_key(key: bytes) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise PointerError(f"the pointer key must be at least {MIN_KEY_BYTES} bytes")
    return key


def load_key(key_file: Path | None = None) -> bytes:
    """The shared secret: ``key_file`` (line ending dropped), else ``$KAITIAKI_POINTER_KEY``."""
    if key_file is not None:
        try:
            raw = key_file.read_bytes()
        except OSError as exc:
            raise PointerError(f"cannot read key file {key_file}: {exc.strerror}") from None
        # Only line endings are stripped: an editor adds them; other bytes may be part of the key.
        return check_key(raw.rstrip(b"\r\n"))
    value = os.environ.get(KEY_ENV)
    if not value:
        raise PointerError(f"give --key-file or set {KEY_ENV} to the secret agreed with partners")
    return check_key(value.encode())


def _normalisers(region: str | None) -> dict[str, Callable[[str], str | None]]:
    def account(value: str) -> str | None:
        return value.strip() or None

    def phone(value: str) -> str | None:
        # The subject's attributed country reads national numbers, as identity resolution does.
        return normalise_phone(value, region)

    return {
        "email": normalise_email,
        "phone": phone,
        "account": account,
        "device": normalise_device_id,
    }


_COLUMNS = {"email": "email", "phone": "phone", "device": "device_id"}


def pointers_of(key: bytes, region: str | None, values: dict[str, set[str]]) -> dict[str, str]:
    """Pointers of one party's raw identifier values by kind (``email``, ``phone``,
    ``account``, ``device``), normalised as every pointer is: pointer -> kind."""
    normalise = _normalisers(region)
    found = {}
    for kind, raw_values in values.items():
        for raw in raw_values:
            value = normalise[kind](raw)
            if value is not None:
                found[hmac_identifier(key, kind, value)] = kind
    return found


def subject_pointers(
    store: Store, workspace: Path | None, key: bytes
) -> dict[str, set[tuple[str, str, str]]]:
    """Every pointer of our subjects' accounts -> {(subject id, account id, kind)}. Without a
    workspace only account ids are known (the other identifiers live in its records)."""
    return {
        pointer: {(o.subject_id, o.account_id, o.kind) for o in origins}
        for pointer, origins in _our_pointers(store, workspace, key).items()
    }


def _our_pointers(store: Store, workspace: Path | None, key: bytes) -> dict[str, set[_Origin]]:
    """Every pointer of our subjects' accounts, with where it came from (kept on our side)."""
    check_key(key)
    with store.session() as session:
        rows = session.execute(
            select(Account.account_id, Account.subject_id, Subject.country)
            .join(Subject, Subject.id == Account.subject_id)
            .where(Account.subject_id.is_not(None))
        ).all()
    subject_of = {account: (str(subject), country) for account, subject, country in rows}
    values: dict[str, dict[str, set[str]]] = {a: defaultdict(set) for a in subject_of}
    for account in subject_of:
        values[account]["account"].add(account)
    files = ingested_files(workspace, "accounts") if workspace is not None else []
    if files and subject_of:
        # Here, not at the top: pyarrow.dataset loads pandas, which the web server never needs.
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        table = ds.dataset([str(p) for p in files], format="parquet").to_table(
            columns=["account_id", *_COLUMNS.values()],
            filter=pc.field("account_id").isin(sorted(subject_of)),
        )
        for row in table.to_pylist():
            for kind, column in _COLUMNS.items():
                if row[column]:
                    values[row["account_id"]][kind].add(str(row[column]))
    pointers: dict[str, set[_Origin]] = defaultdict(set)
    for account, kinds in values.items():
        subject, country = subject_of[account]
        normalise = _normalisers(country)
        for kind, raw_values in kinds.items():
            for raw in raw_values:
                value = normalise[kind](raw)
                if value is not None:
                    pointer = hmac_identifier(key, kind, value)
                    pointers[pointer].add(_Origin(subject, account, kind))
    return pointers


def export_pointers(
    store: Store,
    workspace: Path,
    out: Path,
    *,
    key: bytes,
    contact_reference: str,
    operation: str,
) -> int:
    """Write the pointer file of every subject's accounts; returns how many pointers it holds."""
    if not contact_reference.strip():
        raise PointerError("a contact reference is required: it is all the other side will see")
    pointers = sorted(_our_pointers(store, workspace, key))
    document = {
        "format": FORMAT,
        "version": VERSION,
        "algorithm": ALGORITHM,
        "contact_reference": contact_reference.strip(),
        "operation": operation,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key_id": key_id(key),
        "pointers": pointers,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    return len(pointers)


@dataclass(frozen=True, slots=True)
class PointerFile:
    contact_reference: str
    operation: str
    key_id: str
    pointers: frozenset[str]


def read_pointers(path: Path) -> PointerFile:
    """Read and check a pointer file; anything unexpected is a ``PointerError`` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise PointerError(f"cannot read {path}: {exc.strerror}") from None
    except RecursionError:  # json recurses into arrays: a file nested thousands deep
        raise PointerError(f"{path} is not JSON kaitiaki reads: nested too deeply") from None
    except ValueError as exc:  # bad JSON, bad UTF-8, an integer past 4300 digits
        raise PointerError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PointerError(f"{path} is not a {FORMAT} file")
    if data.get("version") != VERSION or data.get("algorithm") != ALGORITHM:
        raise PointerError(
            f"{path}: version {data.get('version')!r} / {data.get('algorithm')!r} unsupported "
            f"(expected {VERSION} / {ALGORITHM})"
        )
    pointers = data.get("pointers")
    if not isinstance(pointers, list) or not all(
        isinstance(p, str) and _HEX64.fullmatch(p) for p in pointers
    ):
        raise PointerError(f"{path}: 'pointers' must be a list of 64-digit lowercase hex strings")
    fields = {}
    for name in ("contact_reference", "operation", "key_id"):
        value = data.get(name)
        if not isinstance(value, str):
            raise PointerError(f"{path}: {name!r} must be a string")
        fields[name] = value
    return PointerFile(**fields, pointers=frozenset(pointers))


def check_pointers(store: Store, workspace: Path, other_file: Path, *, key: bytes) -> list[Hit]:
    """Our accounts whose identifiers the other side also holds, under the shared ``key``."""
    other = read_pointers(other_file)
    if other.key_id != key_id(key):
        raise PointerKeyMismatchError(
            "the files were made with different keys: agree one key with the other side "
            f"(theirs {other.key_id}, ours {key_id(key)}); nothing was compared"
        )
    ours = _our_pointers(store, workspace, key)
    hits = {
        Hit(other.contact_reference, other.operation, o.subject_id, o.account_id, o.kind)
        for pointer in other.pointers & ours.keys()
        for o in ours[pointer]
    }
    return sorted(hits, key=lambda h: (h.subject_id, h.account_id, h.kind))


def referred_subjects(store: Store, subject_ids: list[str]) -> dict[str, str]:
    """Which of ``subject_ids`` are already in a referral (subject -> referral id)."""
    with store.session() as session:
        rows = session.execute(
            select(ReferralSubject.subject_id, ReferralSubject.referral_id).where(
                ReferralSubject.subject_id.in_(subject_ids)
            )
        )
        return {subject: referral for subject, referral in rows}
