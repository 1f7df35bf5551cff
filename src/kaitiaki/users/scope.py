"""Jurisdictions, and the scope of what a caller may reach.

A liaison officer works for one or more (country, agency) pairs. The agency name alone is no
boundary: 186 countries route to "INTERPOL National Central Bureau", so a name-only scope let one
country's NCB officer read and change every other NCB country's referrals. Every referral read
model and change asks ``Scope.covers`` (or filters with ``Scope.countries`` first, then
``covers``), so one predicate decides everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pycountry

from kaitiaki.users.roles import JURISDICTION_SCOPED, Permission, Role, allowed

MAX_AGENCY = 200
# Kosovo: not in ISO 3166-1 but the user-assigned code every agency table (ours too) uses.
_EXTRA_COUNTRIES = frozenset({"XK"})


class JurisdictionError(ValueError):
    """A jurisdiction that cannot be used; the message says which part and why."""


def _agency_key(agency: str) -> str:
    # Case and runs of spaces are not a different agency; anything else is.
    return " ".join(agency.split()).casefold()


def clean_country(country: str) -> str:
    """``country`` as an upper-case ISO 3166-1 alpha-2 code, or JurisdictionError."""
    code = country.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise JurisdictionError(f"country {country!r} is not a two-letter ISO 3166-1 code")
    if code not in _EXTRA_COUNTRIES and pycountry.countries.get(alpha_2=code) is None:
        raise JurisdictionError(f"country {code!r} is not an ISO 3166-1 country code")
    return code


def clean_agency(agency: str) -> str:
    cleaned = " ".join(agency.split())
    if not cleaned:
        raise JurisdictionError("the agency name is empty")
    if len(cleaned) > MAX_AGENCY:
        raise JurisdictionError(f"the agency name is longer than {MAX_AGENCY} characters")
    if not cleaned.isprintable():
        raise JurisdictionError(f"the agency name {cleaned!r} holds control characters")
    return cleaned


@dataclass(frozen=True, slots=True, order=True)
class Jurisdiction:
    """One (country, agency) pair; build it with ``jurisdiction`` or ``parse_jurisdiction``."""

    country: str
    agency: str

    def covers(self, country: str | None, agency: str) -> bool:
        return (
            country is not None
            and country.strip().upper() == self.country
            and _agency_key(agency) == _agency_key(self.agency)
        )

    def __str__(self) -> str:
        return f"{self.country}:{self.agency}"


def jurisdiction(country: str, agency: str) -> Jurisdiction:
    return Jurisdiction(clean_country(country), clean_agency(agency))


def parse_jurisdiction(text: str) -> Jurisdiction:
    """``COUNTRY:AGENCY`` (``NZ:NZ Police``) as a Jurisdiction, or JurisdictionError."""
    country, sep, agency = text.partition(":")
    if not sep:
        raise JurisdictionError(
            f'jurisdiction {text!r} must be COUNTRY:AGENCY, e.g. NZ:"New Zealand Police"'
        )
    return jurisdiction(country, agency)


def jurisdiction_set(pairs: Iterable[Jurisdiction]) -> frozenset[Jurisdiction]:
    """Pairs with duplicates (ignoring case and spacing of the agency) dropped."""
    seen: dict[tuple[str, str], Jurisdiction] = {}
    for pair in pairs:
        seen.setdefault((pair.country, _agency_key(pair.agency)), pair)
    return frozenset(seen.values())


@dataclass(frozen=True, slots=True)
class Scope:
    """What a caller may reach: its role's permissions and, for a liaison, its jurisdictions.

    ``Scope.operator()`` is the person at the command line, who already holds the database and is
    not limited."""

    role: Role
    jurisdictions: frozenset[Jurisdiction] = field(default_factory=frozenset)

    @classmethod
    def operator(cls) -> Scope:
        return cls(Role.ADMIN)

    @property
    def bounded(self) -> bool:
        """Whether this caller reaches only the referrals of its jurisdictions."""
        return self.role in JURISDICTION_SCOPED

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    def covers(self, country: str | None, agency: str) -> bool:
        """Whether a referral to ``agency`` in ``country`` is within reach. A bounded caller
        without a jurisdiction reaches nothing (fails closed)."""
        if not self.bounded:
            return True
        return any(j.covers(country, agency) for j in self.jurisdictions)

    @property
    def countries(self) -> frozenset[str]:
        """The countries of a bounded caller, for narrowing a query before ``covers``."""
        return frozenset(j.country for j in self.jurisdictions)
