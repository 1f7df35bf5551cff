"""Tiny MaxMind DB files written in the test, with a pure-Python writer (``mmdb-writer``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def write_mmdb(path: Path, networks: dict[str, dict[str, Any]], kind: str) -> Path:
    """An IPv6 database (IPv4 reachable through it, as MaxMind ships them) of ``networks``."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=kind)
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


def country_db(path: Path) -> Path:
    return write_mmdb(
        path,
        {
            "8.8.8.0/24": {"country": {"iso_code": "NZ"}, "registered_country": {"iso_code": "US"}},
            "9.9.9.0/24": {"registered_country": {"iso_code": "CH"}},  # no "country": fall back
            "2001:4860::/32": {"country": {"iso_code": "DE"}},
            "81.2.69.0/24": {"country_code": "gb"},  # flat layout (ip-location-db style)
        },
        "GeoLite2-Country",
    )


def asn_db(path: Path) -> Path:
    return write_mmdb(
        path,
        {
            "8.8.8.0/24": {
                "autonomous_system_number": 9009,
                "autonomous_system_organization": "M247 Europe SRL",
            },
            "9.9.9.0/24": {
                "autonomous_system_number": 19281,
                "autonomous_system_organization": "QUAD9-AS-1",
            },
        },
        "GeoLite2-ASN",
    )
