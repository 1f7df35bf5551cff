"""Lookups in MaxMind-format ``.mmdb`` files the user gives (GeoIP2/GeoLite2, DB-IP and the like).

The country file is read for ``country.iso_code`` (where the address is used), falling back to
``registered_country.iso_code`` (where it was registered), and, for flat databases, a top-level
``country_code``. An ASN file (GeoLite2-ASN layout) adds ``autonomous_system_number`` and
``autonomous_system_organization``; a country file that carries those fields itself needs none.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import maxminddb

from kaitiaki.geo.hosting import HostingList, load_hosting_list
from kaitiaki.geo.model import Geolocator, Located


class MmdbError(ValueError):
    """A file that is not a readable MaxMind DB."""


def _open(path: Path) -> maxminddb.Reader:
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise MmdbError(f"{path}: not a readable MaxMind DB ({exc})") from None


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
    number = record.get("autonomous_system_number")
    org = record.get("autonomous_system_organization")
    return (
        number if isinstance(number, int) else None,
        org if isinstance(org, str) and org else None,
    )


class AsnMmdb:
    """An ASN database (GeoLite2-ASN layout)."""

    def __init__(self, path: Path) -> None:
        self.reader = _open(path)

    def lookup(self, text: str) -> tuple[int | None, str | None]:
        record = self.reader.get(text)
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
        self.reader = _open(path)
        self.asn = AsnMmdb(asn_path) if asn_path is not None else None

    def _lookup(self, value: int, version: int, text: str) -> Located:
        try:
            record, prefix_len = self.reader.get_with_prefix_len(text)
        except ValueError:
            # An IPv6 address against an IPv4-only database.
            record, prefix_len = None, 0
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
