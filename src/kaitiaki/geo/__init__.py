"""IP geolocation and routing, fully offline.

``open_geolocator()`` gives the packaged data (``geoip2fast``'s GeoLite2-derived country + AS
file, see ``packaged``), or the user's MaxMind ``.mmdb`` files when given. Private, reserved and
carrier-grade NAT addresses are marked by ``scope`` and never attributed; hosting/VPN addresses
are flagged from the shipped ASN list plus a user list. ``load_agencies()`` maps a country to the
agency that receives referrals for it.
"""

from __future__ import annotations

from pathlib import Path

from kaitiaki.geo.agencies import (
    UNATTRIBUTED,
    Agency,
    AgencyTable,
    AgencyTableError,
    load_agencies,
)
from kaitiaki.geo.hosting import HostingList, HostingListError, load_hosting_list
from kaitiaki.geo.mmdb import MmdbError, MmdbGeolocator
from kaitiaki.geo.model import Geolocator, IpInfo
from kaitiaki.geo.packaged import PackagedGeolocator, country_networks, hosting_networks
from kaitiaki.geo.scope import Scope, parse_ip, scope_of


def open_geolocator(
    mmdb: Path | None = None,
    asn_mmdb: Path | None = None,
    hosting_list: Path | None = None,
) -> Geolocator:
    """The user's ``.mmdb`` (plus optional ASN ``.mmdb``) when given, else the packaged data.

    An ASN ``.mmdb`` alone adds AS numbers to the packaged country data.
    """
    hosting = load_hosting_list(hosting_list)
    if mmdb is not None:
        return MmdbGeolocator(mmdb, asn_mmdb, hosting=hosting)
    return PackagedGeolocator(hosting=hosting, asn_path=asn_mmdb)


__all__ = [
    "UNATTRIBUTED",
    "Agency",
    "AgencyTable",
    "AgencyTableError",
    "Geolocator",
    "HostingList",
    "HostingListError",
    "IpInfo",
    "MmdbError",
    "MmdbGeolocator",
    "PackagedGeolocator",
    "Scope",
    "country_networks",
    "hosting_networks",
    "load_agencies",
    "load_hosting_list",
    "open_geolocator",
    "parse_ip",
    "scope_of",
]
