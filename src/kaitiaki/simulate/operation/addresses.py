"""The addresses simulated people connect from, drawn from what the geolocation data says.

Home addresses come from ``kaitiaki.geo``'s networks for the person's country and are checked
with the geolocator before use (public, that country, not hosting), so an analysis using the
same data can attribute them. Mobile carriers' public egress addresses are shared by many
unrelated people of one country; VPN exits (hosting/VPN networks) by many people of any country;
and some mobile events carry a carrier-grade NAT or private address, which must stay unattributed.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kaitiaki.geo import IpInfo, PackagedGeolocator, hosting_networks
from kaitiaki.geo.packaged import packaged_data
from kaitiaki.simulate.operation.countries import COUNTRIES
from kaitiaki.simulate.operation.people import Ints, Population

PEOPLE_PER_CARRIER_ADDRESS = 40
PEOPLE_PER_VPN_EXIT = 40
_UNATTRIBUTED = (("100.64.0.0", 10, 0.6), ("10.0.0.0", 8, 0.25), ("192.168.0.0", 16, 0.15))


@dataclass(frozen=True)
class Addresses:
    """Every address the events use (``texts``) and, per person or country, which ones."""

    texts: list[str]
    v4_start: Ints  # per person: home broadband addresses
    v4_count: Ints
    v6_start: Ints  # per person; count 0 without IPv6
    v6_count: Ints
    leak: Ints  # per person: a CGNAT/private address (mobile people)
    travel_start: Ints  # per person; count 0 unless travelling
    travel_count: Ints
    carrier_start: Ints  # per country: shared mobile egress addresses
    carrier_count: Ints
    vpn_start: int  # shared VPN/hosting exits
    vpn_count: int


def _v4_text(values: list[int]) -> list[str]:
    return [socket.inet_ntop(socket.AF_INET, v.to_bytes(4)) for v in values]


def _v6_text(values: list[int]) -> list[str]:
    return [socket.inet_ntop(socket.AF_INET6, v.to_bytes(16)) for v in values]


class _Drawer:
    """Draws addresses in networks, keeping only those the geolocator agrees with."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.geo = PackagedGeolocator()
        self.data = packaged_data()
        self.used: set[str] = set()

    def _sample(self, starts: list[int], lengths: list[int], bits: int, n: int) -> list[int]:
        """``n`` addresses: a network chosen by (capped) size, then a random host in it."""
        rng = self.rng
        host_bits = np.array([bits - length for length in lengths])
        # Capping keeps a few huge blocks from taking every draw.
        weights = np.exp2(np.minimum(host_bits, 16 if bits == 32 else 24).astype(float))
        picks = rng.choice(len(starts), size=n, p=weights / weights.sum())
        out = []
        for i in picks.tolist():
            free = int(host_bits[i])
            offset = int.from_bytes(rng.bytes(16)) & ((1 << free) - 1) if free else 0
            out.append(starts[i] + offset)
        return out

    def draw(
        self, n: int, make: Callable[[int], list[str]], keep: Callable[[IpInfo], bool]
    ) -> list[str]:
        """``n`` distinct, not yet used addresses from ``make`` that ``keep`` accepts (or fewer)."""
        found: list[str] = []
        for _ in range(30):
            want = n - len(found)
            if want <= 0:
                break
            candidates = make(max(16, int(want * 1.3)))
            for info in self.geo.locate_many(candidates):
                if len(found) < n and info.ip not in self.used and keep(info):
                    self.used.add(info.ip)
                    found.append(info.ip)
        return found

    def _maker(
        self, starts: list[int], lengths: list[int], version: int
    ) -> Callable[[int], list[str]]:
        bits, text = (32, _v4_text) if version == 4 else (128, _v6_text)
        return lambda k: text(self._sample(starts, lengths, bits, k))

    def country(self, code: str, version: int, n: int) -> list[str]:
        starts, lengths = self.data.country_ranges(code, version)
        if not starts or n == 0:
            return []

        def keep(info: IpInfo) -> bool:
            return info.scope == "public" and info.country == code and not info.hosting

        return self.draw(n, self._maker(starts, lengths, version), keep)

    def hosting(self, n: int) -> list[str]:
        texts: list[str] = []
        for version, share in ((4, 0.8), (6, 0.2)):
            networks = hosting_networks(version, self.geo.hosting)
            starts = [int(net.network_address) for net, _ in networks]
            lengths = [net.prefixlen for net, _ in networks]
            texts += self.draw(
                max(1, int(n * share)),
                self._maker(starts, lengths, version),
                lambda info: info.scope == "public" and info.hosting,
            )
        return texts

    def unattributed(self, n: int) -> list[str]:
        """CGNAT and private addresses: reused freely, as real NATs reuse them."""
        kinds = self.rng.choice(len(_UNATTRIBUTED), size=n, p=[k[2] for k in _UNATTRIBUTED])
        values = []
        for kind, noise in zip(
            kinds.tolist(), self.rng.integers(1, 1 << 22, n).tolist(), strict=True
        ):
            base, length, _ = _UNATTRIBUTED[kind]
            size = 1 << (32 - length)
            values.append(int.from_bytes(socket.inet_aton(base)) + noise % (size - 2) + 1)
        return _v4_text(values)


def _per_person(
    texts: list[str], drawer: _Drawer, pop: Population, counts: Ints, country: Ints, version: int
) -> tuple[Ints, Ints]:
    """Draw ``counts[p]`` addresses in ``country[p]`` for each person; returns (start, count)."""
    start = np.zeros(pop.persons, np.int64)
    got = np.zeros(pop.persons, np.int64)
    for c in np.unique(country[counts > 0]).tolist():
        members = np.flatnonzero((country == c) & (counts > 0))
        drawn = drawer.country(COUNTRIES[c].code, version, int(counts[members].sum()))
        base, cursor = len(texts), 0
        texts += drawn
        for p, k in zip(members.tolist(), counts[members].tolist(), strict=True):
            take = min(k, len(drawn) - cursor)
            start[p], got[p] = base + cursor, take
            cursor += take
    return start, got


def plan_addresses(rng: np.random.Generator, pop: Population) -> Addresses:
    drawer = _Drawer(rng)
    texts: list[str] = []
    persons = pop.persons
    v4_start, v4_count = _per_person(
        texts, drawer, pop, rng.integers(1, 4, persons), pop.country, 4
    )
    if (v4_count == 0).any():
        raise RuntimeError("could not draw home addresses for every person")
    v6_start, v6_count = _per_person(
        texts, drawer, pop, np.where(pop.has_v6, rng.integers(1, 3, persons), 0), pop.country, 6
    )
    travel_start, travel_count = _per_person(
        texts, drawer, pop, np.where(pop.traveller, 2, 0), np.maximum(pop.travel_country, 0), 4
    )
    leak = np.full(persons, -1, np.int64)
    mobile = np.flatnonzero(pop.mobile)
    leak[mobile] = len(texts) + np.arange(len(mobile))
    texts += drawer.unattributed(len(mobile))

    carrier_start = np.zeros(len(COUNTRIES), np.int64)
    carrier_count = np.zeros(len(COUNTRIES), np.int64)
    mobile_people = np.bincount(pop.country[pop.mobile], minlength=len(COUNTRIES))
    for c in np.flatnonzero(mobile_people).tolist():
        need = -(-int(mobile_people[c]) // PEOPLE_PER_CARRIER_ADDRESS)
        drawn = drawer.country(COUNTRIES[c].code, 4, need)
        carrier_start[c], carrier_count[c] = len(texts), len(drawn)
        texts += drawn
    vpn_start = len(texts)
    texts += drawer.hosting(max(20, persons // PEOPLE_PER_VPN_EXIT))
    return Addresses(
        texts=texts,
        v4_start=v4_start,
        v4_count=v4_count,
        v6_start=v6_start,
        v6_count=v6_count,
        leak=leak,
        travel_start=travel_start,
        travel_count=travel_count,
        carrier_start=carrier_start,
        carrier_count=carrier_count,
        vpn_start=vpn_start,
        vpn_count=len(texts) - vpn_start,
    )
