"""The plain values identity resolution reads and writes: accounts' identifiers, links, subjects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

IdentifierKind = Literal["email", "phone", "device", "ip"]


@dataclass(frozen=True, slots=True)
class AccountIdentifiers:
    """One row of an account's identifiers, as the provider gave them (not yet normalised).

    Several rows may carry one ``account_id`` (one per export, per platform table...): resolution
    merges them. ``region`` (ISO 3166-1 alpha-2) is how this row's nationally written phone numbers
    are read; the caller derives it from the account's attributed country, or leaves it ``None``
    (then only international numbers count). ``usernames`` are kept for display and never link:
    the same name on two platforms, or reused after deletion, is as often two people as one.
    """

    account_id: str
    usernames: Sequence[str] = ()
    emails: Sequence[str] = ()
    phones: Sequence[str] = ()
    device_ids: Sequence[str] = ()
    region: str | None = None


@dataclass(frozen=True, slots=True)
class IpEvent:
    """An account seen on an IP at a time (an access event reduced to what weak links need).

    A timestamp without a time zone is taken as UTC (the store keeps UTC).
    """

    account_id: str
    ip: str
    timestamp: datetime


@dataclass(frozen=True, slots=True, order=True)
class Link:
    """Evidence that two accounts are one person. ``account_a < account_b``.

    ``reason`` is ``kind=value`` with the normalised value (``email=johnsmith@gmail.com``,
    ``phone=+64211234567``, ``device=...``), and for weak links the details after the value
    (``ip=81.2.69.160 (120 s apart at 2024-03-01T10:00:00+00:00)``). It is written in the clear:
    links stay inside the operation; pointers leaving it use ``ids.hmac_identifier``.
    """

    account_a: str
    account_b: str
    reason: str

    @property
    def kind(self) -> str:
        """``email``, ``phone``, ``device`` or ``ip``."""
        return self.reason.split("=", 1)[0]

    @property
    def strong(self) -> bool:
        """Whether the link rests on a shared identifier (``False`` for co-located IP events)."""
        return self.kind != "ip"


@dataclass(frozen=True, slots=True)
class Subject:
    """Accounts believed to be one person. ``account_ids`` sorted; ``subject_id`` from ``ids``."""

    subject_id: str
    account_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, order=True)
class SkippedIdentifier:
    """An identifier that could have linked accounts but was not used, and why.

    ``accounts`` is the number of distinct accounts that carried it (for IPs: all accounts seen,
    not only the ones being resolved).
    """

    kind: IdentifierKind
    value: str
    accounts: int
    reason: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """What ``resolve_subjects`` found: every account in exactly one subject (singletons too)."""

    subjects: tuple[Subject, ...]
    links: tuple[Link, ...]
    skipped: tuple[SkippedIdentifier, ...]

    def subject_of(self) -> dict[str, str]:
        """Account id -> subject id, for joining subjects back onto accounts and events."""
        return {account: s.subject_id for s in self.subjects for account in s.account_ids}
