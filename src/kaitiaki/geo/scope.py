"""Parse an address and say which kind of address space it is in, before any country lookup.

Private, reserved and carrier-grade NAT addresses say nothing about where a person is: a
provider that logs ``10.1.2.3`` or ``100.64.7.9`` logged its own (or a carrier's) internal side
of a NAT. They are marked and never attributed. The ranges are IANA's special-purpose registries,
written as stdlib ``ipaddress`` networks; ``tests/geo`` checks them against ``ipaddress``'s own
properties. Lookups use sorted integer intervals and ``bisect``, because ``ipaddress``'s
``is_private`` walks a list of networks on every call: too slow for millions of addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from typing import Final, Literal

Scope = Literal[
    "public", "private", "loopback", "link-local", "cgnat", "reserved", "multicast", "invalid"
]

# (network, scope). Overlaps resolve to the smaller network (see _intervals).
_SPECIAL_V4: Final = (
    ("0.0.0.0/8", "reserved"),  # "this network"
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "cgnat"),  # RFC 6598 shared address space
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
    ("192.0.2.0/24", "reserved"),  # TEST-NET-1 (documentation)
    ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),  # benchmarking
    ("198.51.100.0/24", "reserved"),  # TEST-NET-2
    ("203.0.113.0/24", "reserved"),  # TEST-NET-3
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # future use, and 255.255.255.255 broadcast
)
_SPECIAL_V6: Final = (
    # Everything outside 2000::/3 is unallocated or special; the entries below refine it.
    ("::/3", "reserved"),
    ("::/128", "reserved"),  # unspecified
    ("::1/128", "loopback"),
    ("4000::/2", "reserved"),
    ("8000::/1", "reserved"),
    ("64:ff9b::/96", "reserved"),  # NAT64: the IPv4 inside is not this address's location
    ("100::/64", "reserved"),  # discard-only
    ("2001::/23", "reserved"),  # IETF protocol assignments (Teredo, benchmarking, ...)
    ("2001:db8::/32", "reserved"),  # documentation
    ("3fff::/20", "reserved"),  # documentation (RFC 9637)
    ("fc00::/7", "private"),  # unique local addresses
    ("fe80::/10", "link-local"),
    ("fec0::/10", "reserved"),  # deprecated site-local
    ("ff00::/8", "multicast"),
)


def _intervals(table: tuple[tuple[str, str], ...]) -> tuple[list[int], list[int], list[str]]:
    """Flatten possibly nested networks into sorted, disjoint [start, end] intervals."""
    nets = sorted(
        ((ipaddress.ip_network(text), scope) for text, scope in table),
        key=lambda pair: pair[0].prefixlen,
    )
    # Paint from the widest network to the narrowest, so nested (more specific) ones win.
    bounds: list[tuple[int, int, str]] = []
    for net, scope in nets:
        lo, hi = int(net.network_address), int(net.broadcast_address)
        kept: list[tuple[int, int, str]] = []
        for a, b, s in bounds:
            if b < lo or a > hi:
                kept.append((a, b, s))
                continue
            if a < lo:
                kept.append((a, lo - 1, s))
            if b > hi:
                kept.append((hi + 1, b, s))
        kept.append((lo, hi, scope))
        bounds = sorted(kept)
    return [a for a, _, _ in bounds], [b for _, b, _ in bounds], [s for _, _, s in bounds]


_V4: Final = _intervals(_SPECIAL_V4)
_V6: Final = _intervals(_SPECIAL_V6)


def scope_of(value: int, version: int) -> Scope:
    """The scope of an address given as an integer: ``public`` unless a special range holds it."""
    starts, ends, scopes = _V4 if version == 4 else _V6
    i = bisect_right(starts, value) - 1
    if i >= 0 and value <= ends[i]:
        return scopes[i]  # type: ignore[return-value]
    return "public"


def parse_ip(text: str) -> tuple[int, int, str] | None:
    """Parse an address as logs write it: ``(integer, version, normalised text)``, else ``None``.

    Never raises. Tolerates surrounding spaces and ``[...]`` brackets; strict otherwise (no
    leading-zero or shortened IPv4 forms, which parsers disagree on). A zone index
    (``fe80::1%eth0``) names an interface of the logging host and is dropped. An IPv4-mapped IPv6
    address (``::ffff:192.0.2.1``) becomes the IPv4 address it carries: that is the host seen.
    The socket module's C parsers are used because this runs once per distinct address.
    """
    if not isinstance(text, str):
        return None
    cleaned = text.strip()
    if cleaned.startswith("[") and cleaned.endswith("]"):
        cleaned = cleaned[1:-1]
    if ":" not in cleaned:
        try:
            packed = socket.inet_pton(socket.AF_INET, cleaned)
        except (OSError, ValueError):
            return None
        return int.from_bytes(packed), 4, socket.inet_ntop(socket.AF_INET, packed)
    address, _, zone = cleaned.partition("%")
    if zone == "" and cleaned.endswith("%"):
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET6, address)
    except (OSError, ValueError):
        return None
    value = int.from_bytes(packed)
    if value >> 32 == 0xFFFF:
        return value & 0xFFFFFFFF, 4, socket.inet_ntop(socket.AF_INET, packed[12:])
    return value, 6, socket.inet_ntop(socket.AF_INET6, packed)
