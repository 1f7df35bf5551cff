"""Country -> receiving agency: which unit a referral about a subject in that country goes to.

The table is data, not code (``data/agencies.csv``: ``country, country_name, agency, unit,
contact_reference``): it covers every ISO 3166-1 country (and ``XK``), naming the national
child-exploitation unit where it is well known and the INTERPOL National Central Bureau otherwise;
territories route to the agency of the state that polices them. A user's CSV in the same layout
overrides the shipped rows country by country (rows it does not mention keep the shipped value).
"""

from __future__ import annotations

import csv
import importlib.resources
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

COLUMNS: Final = ("country", "country_name", "agency", "unit", "contact_reference")
INTERPOL_NCB: Final = "INTERPOL National Central Bureau"


class AgencyTableError(ValueError):
    """A malformed agency CSV; the message names the file, the line and the reason."""


@dataclass(frozen=True, slots=True)
class Agency:
    """Where referrals for one country go."""

    country: str
    country_name: str
    agency: str
    unit: str
    contact_reference: str

    @property
    def is_interpol_default(self) -> bool:
        """True when no national unit is named and INTERPOL routes the referral."""
        return self.agency.startswith("INTERPOL")


# Subjects whose country is unknown (VPN only, unattributable addresses) still need a home.
UNATTRIBUTED: Final = Agency(
    country="",
    country_name="unattributed",
    agency="INTERPOL General Secretariat",
    unit="Crimes Against Children unit (triage of subjects with no attributable country)",
    contact_reference="INTERPOL I-24/7 via the referring country's NCB",
)


class AgencyTable:
    """Agencies by country code, case-insensitive; unknown or missing codes get ``UNATTRIBUTED``."""

    def __init__(self, agencies: dict[str, Agency]) -> None:
        self._by_country = agencies

    def for_country(self, cc: str | None) -> Agency:
        if not cc:
            return UNATTRIBUTED
        return self._by_country.get(cc.strip().upper(), UNATTRIBUTED)

    def __contains__(self, cc: object) -> bool:
        return isinstance(cc, str) and cc.strip().upper() in self._by_country

    def __iter__(self) -> Iterator[Agency]:
        return iter(sorted(self._by_country.values(), key=lambda a: a.country))

    def __len__(self) -> int:
        return len(self._by_country)


def _read(handle: TextIO, where: str) -> dict[str, Agency]:
    reader = csv.DictReader(handle)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise AgencyTableError(f"{where}:1: missing column(s) {', '.join(missing)}")
    rows: dict[str, Agency] = {}
    for row in reader:
        line = reader.line_num
        if None in row or any(row.get(c) is None for c in COLUMNS):
            raise AgencyTableError(f"{where}:{line}: wrong number of fields")
        values = {c: (row[c] or "").strip() for c in COLUMNS}
        code = values["country"].upper()
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            raise AgencyTableError(
                f"{where}:{line}: country {values['country']!r} is not a 2-letter code"
            )
        if not values["agency"]:
            raise AgencyTableError(f"{where}:{line}: country {code} has no agency")
        if code in rows:
            raise AgencyTableError(f"{where}:{line}: country {code} is listed twice")
        values["country"] = code
        rows[code] = Agency(**values)
    return rows


def shipped_agencies() -> dict[str, Agency]:
    resource = importlib.resources.files("kaitiaki.geo") / "data" / "agencies.csv"
    return _read(io.StringIO(resource.read_text(encoding="utf-8")), "agencies.csv (shipped)")


def load_agencies(path: Path | None = None) -> AgencyTable:
    """The shipped table, with a user's CSV (same columns) overriding it country by country."""
    agencies = shipped_agencies()
    if path is not None:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            agencies.update(_read(handle, str(path)))
    return AgencyTable(agencies)
