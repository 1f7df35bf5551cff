"""Lookups in MaxMind-format ``.mmdb`` files the user gives (GeoIP2/GeoLite2, DB-IP and the like).

The country file is read for ``country.iso_code`` (where the address is used), falling back to
``registered_country.iso_code`` (where it was registered), and, for flat databases, a top-level
``country_code``. An ASN file (GeoLite2-ASN layout) adds ``autonomous_system_number`` and
``autonomous_system_organization``; a country file that carries those fields itself needs none.

Each file is checked for what it holds before use, from its metadata's ``database_type``: a
file of the wrong kind (an ASN database given for countries, a City database given for AS
numbers) would otherwise answer "unknown" for every address, silently. A database that cannot
be opened, or whose data turns out corrupt during a lookup, raises ``MmdbError`` naming the file
and the reason: never a traceback, never a silent gap.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import maxminddb

from kaitiaki.geo.hosting import HostingList, load_hosting_list
from kaitiaki.geo.model import Geolocator, Located


class MmdbError(ValueError):
    """A MaxMind DB that cannot be used: missing, unreadable, corrupt or of the wrong kind."""


Role = Literal["country", "asn"]
# Words of ``database_type`` that say what a database holds. MaxMind's types ("GeoIP2-City",
# "GeoLite2-Country", "GeoIP2-Enterprise", "GeoLite2-ASN", "GeoIP2-ISP"), DB-IP's
# ("DBIP-City-Lite", "DBIP-Country-Lite", "DBIP-ASN-Lite", "DBIP-Location-ISP") and IPinfo's
# ("ipinfo country_asn.mmdb") all name it. Enterprise records carry the AS in ``traits``.
_ROLE_WORDS: dict[Role, frozenset[str]] = {
    "country": frozenset({"country", "city", "enterprise", "location"}),
    "asn": frozenset({"asn", "isp", "enterprise"}),
}
_ROLE_NEEDS: dict[Role, str] = {
    "country": "a country database (GeoIP2/GeoLite2 Country, City or Enterprise; DB-IP "
    "country, city or location)",
    "asn": "an AS database (GeoLite2-ASN, GeoIP2-ISP or Enterprise; DB-IP ASN or ISP)",
}
_OPTION: dict[Role, str] = {"country": "--mmdb", "asn": "--asn-mmdb"}
_HOLDS: dict[Role, str] = {"country": "countries", "asn": "AS numbers"}
# Errors a reader raises on corrupt data: its own, and what a damaged record can provoke.
_CORRUPT = (
    maxminddb.InvalidDatabaseError,
    ValueError,
    UnicodeDecodeError,
    RecursionError,
    OverflowError,
    IndexError,
    KeyError,
    TypeError,
)


def roles_of(database_type: str) -> frozenset[Role]:
    """What a database of this ``database_type`` can serve: countries, AS numbers, both or none."""
    words = set(re.split(r"[^a-z0-9]+", database_type.lower()))
    return frozenset(role for role, names in _ROLE_WORDS.items() if words & names)


def _open(path: Path, role: Role) -> maxminddb.Reader:
    """The reader of ``path``, checked to be a MaxMind DB of a type that serves ``role``."""
    if not path.exists():
        raise MmdbError(f"{path}: no such file (given as the {role} database, {_OPTION[role]})")
    if not path.is_file():
        raise MmdbError(f"{path}: not a file (given as the {role} database, {_OPTION[role]})")
    try:
        reader = maxminddb.open_database(str(path))
        database_type = reader.metadata().database_type
    except OSError as exc:
        raise MmdbError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except _CORRUPT as exc:
        raise MmdbError(f"{path}: not a readable MaxMind DB ({exc})") from None
    if not isinstance(database_type, str) or role not in roles_of(database_type):
        reader.close()
        serves = roles_of(database_type) if isinstance(database_type, str) else frozenset()
        hint = "".join(f"; it holds {_HOLDS[r]}: give it as {_OPTION[r]}" for r in serves)
        raise MmdbError(
            f"{path}: a MaxMind DB of type {database_type!r}, which does not hold what "
            f"{_OPTION[role]} needs: {_ROLE_NEEDS[role]}{hint}"
        )
    return reader


class _Database:
    """One opened, type-checked database; lookups that fail on corrupt data say so."""

    def __init__(self, path: Path, role: Role) -> None:
        self.path = path
        self.reader = _open(path, role)
        self.ipv4_only = self.reader.metadata().ip_version == 4

    def get(self, text: str, version: int) -> tuple[Any, int]:
        """(record, prefix length) of ``text``; (None, 0) for an IPv6 address in an IPv4-only
        database; MmdbError, naming the file and address, when the data is corrupt."""
        if version == 6 and self.ipv4_only:
            return None, 0
        return lookup(self.reader, self.path, text)


def lookup(reader: maxminddb.Reader, path: Path, text: str) -> tuple[Any, int]:
    """``reader.get_with_prefix_len`` with a corrupt database as MmdbError, not a traceback."""
    try:
        return reader.get_with_prefix_len(text)
    except _CORRUPT as exc:
        raise MmdbError(
            f"{path}: corrupt MaxMind DB: looking up {text} failed ({exc}); nothing from this "
            "database can be trusted"
        ) from None


def _iso(record: Mapping[str, Any], key: str) -> str | None:
    part = record.get(key)
    code = part.get("iso_code") if isinstance(part, Mapping) else None
    return code.upper() if isinstance(code, str) and len(code) == 2 else None


def _network(text: str, prefix_len: int) -> str | None:
    try:
        return str(ipaddress.ip_network(f"{text}/{prefix_len}", strict=False))
    except ValueError:
        return None


def _asn_fields(record: Mapping[str, Any]) -> tuple[int | None, str | None]:
    traits = record.get("traits")
    if "autonomous_system_number" not in record and isinstance(traits, Mapping):
        record = traits  # GeoIP2 Enterprise and City Plus keep the AS under traits
    number = record.get("autonomous_system_number")
    org = record.get("autonomous_system_organization")
    return (
        number if isinstance(number, int) else None,
        org if isinstance(org, str) and org else None,
    )


class AsnMmdb:
    """An ASN database (GeoLite2-ASN layout)."""

    def __init__(self, path: Path) -> None:
        self.db = _Database(path, "asn")

    def lookup(self, text: str) -> tuple[int | None, str | None]:
        record, _ = self.db.get(text, 6 if ":" in text else 4)
        return _asn_fields(record) if isinstance(record, Mapping) else (None, None)


class MmdbGeolocator(Geolocator):
    """Country (and optionally ASN) from the user's MaxMind DB files."""

    def __init__(
        self,
        path: Path,
        asn_path: Path | None = None,
        hosting: HostingList | None = None,
        hosting_list: Path | None = None,
    ) -> None:
        super().__init__(hosting if hosting is not None else load_hosting_list(hosting_list))
        self.db = _Database(path, "country")
        self.asn = AsnMmdb(asn_path) if asn_path is not None else None

    def _lookup(self, value: int, version: int, text: str) -> Located:
        record, prefix_len = self.db.get(text, version)
        country = network = None
        asn: int | None = None
        org: str | None = None
        if isinstance(record, Mapping):
            country = _iso(record, "country") or _iso(record, "registered_country")
            flat = record.get("country_code")
            if country is None and isinstance(flat, str) and len(flat) == 2:
                country = flat.upper()
            network = _network(text, prefix_len)
            asn, org = _asn_fields(record)
        if self.asn is not None:
            asn, org = self.asn.lookup(text)
        return Located(country=country, network=network, asn=asn, org=org)
