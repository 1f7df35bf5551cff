"""Hosting, cloud and VPN networks: where an address says little about where its user is.

The shipped list (``data/hosting_asns.csv``: ``asn,name``) holds well-known hosting, cloud and VPN
autonomous systems. ``name`` is the AS organisation name as the geolocation data spells it: the
packaged data carries AS names but not numbers, so names are what it can be matched on; an ASN
``.mmdb`` carries numbers, which are matched directly. A user list adds to it, one entry a
line: a CIDR (``203.0.113.0/24``), an ASN (``AS9009`` or ``9009``) or ``org:NAME``; ``#`` starts
a comment.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class HostingListError(ValueError):
    """A hosting list line that is neither a CIDR, an ASN nor ``org:NAME``."""


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass
class HostingList:
    """ASNs, AS organisation names and CIDRs whose addresses are flagged as hosting/VPN."""

    asns: set[int] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # folded with _fold
    # Per IP version: sorted, merged [start, end] integer intervals.
    _starts: dict[int, list[int]] = field(default_factory=lambda: {4: [], 6: []})
    _ends: dict[int, list[int]] = field(default_factory=lambda: {4: [], 6: []})
    # Names that the shipped table maps to exactly one ASN, to fill in numbers for name-only data.
    asn_by_name: dict[str, int] = field(default_factory=dict)

    def add_networks(self, networks: Iterable[Network]) -> None:
        given = list(networks)
        for version in (4, 6):
            spans = [
                (int(n.network_address), int(n.broadcast_address))
                for n in given
                if n.version == version
            ]
            spans += list(zip(self._starts[version], self._ends[version], strict=True))
            merged: list[tuple[int, int]] = []
            for lo, hi in sorted(spans):
                if merged and lo <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
                else:
                    merged.append((lo, hi))
            self._starts[version] = [lo for lo, _ in merged]
            self._ends[version] = [hi for _, hi in merged]

    def contains(self, value: int, version: int) -> bool:
        """Whether the address (as an integer) lies in a listed CIDR."""
        starts = self._starts[version]
        i = bisect_right(starts, value) - 1
        return i >= 0 and value <= self._ends[version][i]

    def is_hosting(self, value: int, version: int, asn: int | None, org: str | None) -> bool:
        if asn is not None and asn in self.asns:
            return True
        if org and _fold(org) in self.names:
            return True
        return self.contains(value, version)

    def number_for(self, org: str | None) -> int | None:
        """The ASN of a listed organisation name, when the list names exactly one."""
        return None if not org else self.asn_by_name.get(_fold(org))


def _shipped_rows() -> list[tuple[int, str]]:
    resource = importlib.resources.files("kaitiaki.geo") / "data" / "hosting_asns.csv"
    text = io.StringIO(resource.read_text(encoding="utf-8"))
    rows = [row for row in csv.DictReader(text) if row.get("asn", "").strip()]
    return [(int(row["asn"]), row["name"].strip()) for row in rows]


def _parse_line(line: str, where: str, hosting: HostingList, networks: list[Network]) -> None:
    entry = line.split("#", 1)[0].strip()
    if not entry:
        return
    if entry.lower().startswith("org:"):
        name = entry[4:].strip()
        if not name:
            raise HostingListError(f"{where}: empty organisation name")
        hosting.names.add(_fold(name))
        return
    digits = entry[2:] if entry.upper().startswith("AS") else entry
    if digits.isdigit():
        hosting.asns.add(int(digits))
        return
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise HostingListError(
            f"{where}: {entry!r} is not a CIDR, an ASN (AS123) or org:NAME"
        ) from None
    networks.append(network)


def load_hosting_list(user_list: Path | None = None) -> HostingList:
    """The shipped hosting ASNs, plus a user's CIDRs/ASNs/names when given."""
    hosting = HostingList()
    by_name: dict[str, set[int]] = {}
    for asn, name in _shipped_rows():
        hosting.asns.add(asn)
        hosting.names.add(_fold(name))
        by_name.setdefault(_fold(name), set()).add(asn)
    hosting.asn_by_name = {
        name: next(iter(asns)) for name, asns in by_name.items() if len(asns) == 1
    }
    if user_list is not None:
        networks: list[Network] = []
        with user_list.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                _parse_line(line, f"{user_list}:{number}", hosting, networks)
        hosting.add_networks(networks)
    return hosting
