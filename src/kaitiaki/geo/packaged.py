"""The offline default: the country + ASN data that ``geoip2fast`` ships in its package.

Why ``geoip2fast``: of the PyPI packages that ship their data (checked: ``iptocc``, ``geoip2fast``,
``python-geoacumen``, ``maxminddb-geolite2``, ``db-geoip``, ``ip2asn``, ``pyasn``, ``geoip-py``), it
is the only one with IPv4 *and* IPv6 *and* AS data, and its file holds plain CIDR ranges, so
``country_networks`` can list exactly what it attributes to a country. Its data is MaxMind
GeoLite2 (CC BY-SA 4.0, "This product includes GeoLite2 data created by MaxMind"), which places
addresses where they are used rather than where they were registered. Drawbacks, accepted:
the package's last release (1.2.2) carries GeoLite2 of 2024-06-18, and its AS data has
organisation names but not numbers. ``iptocc`` is fresher (nightly) but has country only, from
registry allocations, and does not expose its ranges. For current data, give a MaxMind-format
``.mmdb`` (``MmdbGeolocator``); nothing is ever downloaded at run time.

The file is a gzipped pickle. It is read with an unpickler that refuses every class, so only
plain lists, strings and numbers can come out of it.
"""

from __future__ import annotations

import gzip
import importlib.util
import ipaddress
import pickle
import socket
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from kaitiaki.geo.hosting import HostingList, load_hosting_list
from kaitiaki.geo.mmdb import AsnMmdb
from kaitiaki.geo.model import Geolocator, Located, Parsed

DATA_FILE: Final = "geoip2fast-asn-ipv6.dat.gz"
V4_END: Final = 1 << 32
# geoip2fast's first 16 country entries are its own labels for special ranges; "99" is "not found".
_SPECIAL_ENTRIES: Final = 16
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name} in geolocation data")


@dataclass(frozen=True)
class _Table:
    """Sorted ranges: start, last address, prefix length and a label index, per IP version."""

    starts: dict[int, list[int]]
    ends: dict[int, list[int]]
    lengths: dict[int, list[int]]
    labels: dict[int, list[int]]

    @classmethod
    def build(
        cls, firsts: list[list[int]], lengths: list[list[int]], ids: list[list[int]]
    ) -> _Table:
        table = cls({4: [], 6: []}, {4: [], 6: []}, {4: [], 6: []}, {4: [], 6: []})
        for chunk_first, chunk_len, chunk_id in zip(firsts, lengths, ids, strict=True):
            for start, length, label in zip(chunk_first, chunk_len, chunk_id, strict=True):
                version = 4 if start < V4_END else 6
                table.starts[version].append(start)
                table.ends[version].append(
                    start + (1 << ((32 if version == 4 else 128) - length)) - 1
                )
                table.lengths[version].append(length)
                table.labels[version].append(label)
        return table

    @cached_property
    def v4_arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """IPv4 starts and ends as arrays, for vectorised lookups."""
        return np.asarray(self.starts[4], np.int64), np.asarray(self.ends[4], np.int64)

    def find_v4(self, values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Vectorised ``find`` for IPv4 integers; -1 where no range holds the address."""
        starts, ends = self.v4_arrays
        i = np.searchsorted(starts, values, side="right") - 1
        hit = (i >= 0) & (values <= ends[np.maximum(i, 0)])
        return np.where(hit, i, -1)

    def find(self, value: int, version: int) -> int | None:
        """Index of the range holding ``value``, if any."""
        i = bisect_right(self.starts[version], value) - 1
        return i if i >= 0 and value <= self.ends[version][i] else None

    def network_text(self, i: int, version: int) -> str:
        """``network(i, version)`` as text, without building the object (hot path)."""
        family, size = (socket.AF_INET, 4) if version == 4 else (socket.AF_INET6, 16)
        start = socket.inet_ntop(family, self.starts[version][i].to_bytes(size))
        return f"{start}/{self.lengths[version][i]}"

    def network(self, i: int, version: int) -> Network:
        spec = (self.starts[version][i], self.lengths[version][i])
        return ipaddress.IPv4Network(spec) if version == 4 else ipaddress.IPv6Network(spec)


@dataclass(frozen=True)
class PackagedData:
    """The shipped data, loaded once per process."""

    source: str
    countries: list[str | None]  # label index -> ISO alpha-2 (None for special labels)
    orgs: list[str | None]  # ASN label index -> organisation name
    country_table: _Table
    asn_table: _Table

    @cached_property
    def _by_country(self) -> dict[tuple[str, int], list[int]]:
        """Range indexes per (country, version), grouped once (scanning per call is slow)."""
        groups: dict[tuple[str, int], list[int]] = {}
        for version in (4, 6):
            for i, label in enumerate(self.country_table.labels[version]):
                code = self.countries[label]
                if code is not None:
                    groups.setdefault((code, version), []).append(i)
        return groups

    def country_ranges(self, country: str, version: int) -> tuple[list[int], list[int]]:
        """Start addresses (integers) and prefix lengths of the country's networks."""
        table = self.country_table
        indexes = self._by_country.get((country.upper(), version), [])
        starts, lengths = table.starts[version], table.lengths[version]
        return [starts[i] for i in indexes], [lengths[i] for i in indexes]

    def country_networks(self, country: str, version: int) -> list[Network]:
        indexes = self._by_country.get((country.upper(), version), [])
        return [self.country_table.network(i, version) for i in indexes]

    def org_networks(self, names: set[str], version: int) -> list[tuple[Network, str]]:
        """Networks whose AS organisation name (folded) is in ``names``, with that name."""
        table = self.asn_table
        out = []
        for i, label in enumerate(table.labels[version]):
            org = self.orgs[label]
            if org is not None and " ".join(org.split()).casefold() in names:
                out.append((table.network(i, version), org))
        return out


def _country_code(entry: str, index: int) -> str | None:
    code = entry.split(":", 1)[0]
    if index < _SPECIAL_ENTRIES or len(code) != 2 or not code.isalpha():
        return None
    return code.upper()


def _data_path() -> Path:
    """The data file, found without importing ``geoip2fast`` (its code is not needed here)."""
    spec = importlib.util.find_spec("geoip2fast")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise RuntimeError("the geoip2fast package (the packaged geolocation data) is missing")
    return Path(next(iter(locations))) / DATA_FILE


@cache
def packaged_data() -> PackagedData:
    """Load ``geoip2fast``'s country+ASN file (about 0.3 s, ~150 MB) once."""
    with gzip.open(_data_path(), "rb") as handle:
        version, info, _total, tables = _PlainUnpickler(handle).load()
    if version not in (120, 121) or not info.get("asn"):
        raise RuntimeError(f"unexpected geoip2fast data layout {version} {info}")
    (_idx, _idx_asn, country_names, asn_names, firsts, firsts_asn, country_ids, asn_ids, lengths,
     lengths_asn) = tables  # fmt: skip
    return PackagedData(
        source=str(info.get("info", DATA_FILE)),
        countries=[_country_code(entry, i) for i, entry in enumerate(country_names)],
        orgs=[None if name in ("", "<unknown>") else name for name in asn_names],
        country_table=_Table.build(firsts, lengths, country_ids),
        asn_table=_Table.build(firsts_asn, lengths_asn, asn_ids),
    )


def country_networks(country: str, version: int) -> list[Network]:
    """The networks the packaged data attributes to ``country`` (alpha-2), for IP version 4 or 6."""
    return packaged_data().country_networks(country, version)


def hosting_networks(version: int, hosting: HostingList | None = None) -> list[tuple[Network, str]]:
    """Packaged networks of the hosting/VPN organisations in ``hosting`` (default: shipped list)."""
    names = (hosting or load_hosting_list()).names
    return packaged_data().org_networks(names, version)


class PackagedGeolocator(Geolocator):
    """Lookups in the shipped ``geoip2fast`` data (see the module docstring for why)."""

    def __init__(
        self,
        hosting: HostingList | None = None,
        hosting_list: Path | None = None,
        asn_path: Path | None = None,
    ) -> None:
        super().__init__(hosting if hosting is not None else load_hosting_list(hosting_list))
        self.data = packaged_data()
        # A user's ASN .mmdb, when given, replaces the packaged AS names (and adds numbers).
        self.asn = AsnMmdb(asn_path) if asn_path is not None else None
        # Network text per range: addresses cluster in few networks, and formatting one is slow.
        self._network_text: dict[tuple[int, int], str] = {}

    def _lookup_many(self, addresses: list[Parsed]) -> list[Located]:
        # IPv4, the bulk of most logs, is looked up with numpy; IPv6 needs 128-bit integers.
        v4 = np.fromiter((a[0] for a in addresses if a[1] == 4), np.int64)
        country_hits = iter(self.data.country_table.find_v4(v4).tolist())
        asn_hits = iter(self.data.asn_table.find_v4(v4).tolist())
        out = []
        for value, version, text in addresses:
            if version == 4:
                i, j = next(country_hits), next(asn_hits)
                out.append(self._located(version, text, i if i >= 0 else None, j))
            else:
                out.append(self._lookup(value, version, text))
        return out

    def _lookup(self, value: int, version: int, text: str) -> Located:
        j = self.data.asn_table.find(value, version)
        i = self.data.country_table.find(value, version)
        return self._located(version, text, i, -1 if j is None else j)

    def _located(self, version: int, text: str, i: int | None, j: int) -> Located:
        data = self.data
        country = network = org = None
        if i is not None:
            country = data.countries[data.country_table.labels[version][i]]
            network = self._network_text.get((version, i))
            if network is None:
                network = data.country_table.network_text(i, version)
                self._network_text[(version, i)] = network
        asn: int | None = None
        if self.asn is not None:
            asn, org = self.asn.lookup(text)
        elif j >= 0:
            org = data.orgs[data.asn_table.labels[version][j]]
        return Located(country=country, network=network, asn=asn, org=org)
