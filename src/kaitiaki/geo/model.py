"""What a lookup returns, and the interface every geolocation backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

from kaitiaki.geo.hosting import HostingList
from kaitiaki.geo.scope import Scope, parse_ip, scope_of

# Past this many distinct addresses the cache starts again, so memory stays bounded (~0.5 GB).
CACHE_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class IpInfo:
    """One address: its scope, and where the data places it when it is public.

    ``country`` is an ISO 3166-1 alpha-2 code, and ``None`` unless ``scope`` is ``public`` and the
    data knows the address. ``network`` is the data's network holding it; ``asn``/``org`` the
    autonomous system where the data has it; ``hosting`` marks hosting/cloud/VPN addresses, whose
    country is the server's, not the user's.
    """

    ip: str
    version: int
    scope: Scope
    country: str | None = None
    network: str | None = None
    asn: int | None = None
    org: str | None = None
    hosting: bool = False


class Located(NamedTuple):
    """What a backend knows of one public address (before the hosting check)."""

    country: str | None
    network: str | None
    asn: int | None
    org: str | None


Parsed = tuple[int, int, str]  # integer value, IP version, normalised text


class Geolocator(ABC):
    """IP -> scope, country, network, ASN and hosting flag, offline. Never raises on bad input."""

    def __init__(self, hosting: HostingList) -> None:
        self.hosting = hosting
        self._cache: dict[str, IpInfo] = {}

    @abstractmethod
    def _lookup(self, value: int, version: int, text: str) -> Located:
        """The backend's answer for a public address (``value`` its integer form)."""

    def _lookup_many(self, addresses: list[Parsed]) -> list[Located]:
        """``_lookup`` for many public addresses; backends override it to vectorise."""
        return [self._lookup(value, version, text) for value, version, text in addresses]

    def _build_many(self, raws: list[str]) -> list[IpInfo]:
        parsed = [parse_ip(raw) for raw in raws]
        scopes = [None if p is None else scope_of(p[0], p[1]) for p in parsed]
        pairs = zip(parsed, scopes, strict=True)
        public = [p for p, scope in pairs if p is not None and scope == "public"]
        found = iter(self._lookup_many(public))
        out: list[IpInfo] = []
        for raw, p, scope in zip(raws, parsed, scopes, strict=True):
            if p is None or scope is None:
                text = raw.strip() if isinstance(raw, str) else ""
                out.append(IpInfo(ip=text, version=0, scope="invalid"))
                continue
            value, version, text = p
            if scope != "public":
                out.append(IpInfo(ip=text, version=version, scope=scope))
                continue
            country, network, asn, org = next(found)
            if asn is None:
                asn = self.hosting.number_for(org)
            hosting = self.hosting.is_hosting(value, version, asn, org)
            out.append(IpInfo(text, version, scope, country, network, asn, org, hosting))
        return out

    def _remember(self, ip: str, info: IpInfo) -> None:
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[ip] = info

    def locate(self, ip: str) -> IpInfo:
        """One address; invalid text gives scope ``invalid``."""
        cached = self._cache.get(ip)
        if cached is None:
            cached = self._build_many([ip])[0]
            self._remember(ip, cached)
        return cached

    def locate_many(self, ips: Sequence[str]) -> list[IpInfo]:
        """Many addresses, in order; each distinct string is looked up once, in one batch."""
        known: dict[str, IpInfo | None] = {}
        for ip in ips:
            if ip not in known:
                known[ip] = self._cache.get(ip)
        missing = [ip for ip, info in known.items() if info is None]
        for ip, info in zip(missing, self._build_many(missing), strict=True):
            known[ip] = info
            self._remember(ip, info)
        return [cast(IpInfo, known[ip]) for ip in ips]
