"""Weak links: two accounts seen on the same public IP address within a short time window.

Weak because an address is shared far more often than an email: a household, an office, a
carrier's NAT, a VPN exit. Three rules keep the links near-certain anyway:

* only public addresses count (``identifiers.classify_ip``): private and CGNAT (100.64.0.0/10)
  addresses are shared by everyone behind the same router or carrier;
* an address used by more than ``max_accounts_per_ip`` distinct accounts *anywhere in the
  events* (not only within the window) does not link at all: that is the signature of a CGNAT
  pool, a VPN exit or a public Wi-Fi, where two accounts in one minute are still strangers;
* the two accounts must be seen within ``window`` of each other, not merely on the same address
  months apart (dynamic addresses are reassigned).

Memory is proportional to the events on addresses with at most ``max_accounts_per_ip`` accounts;
at tens of millions of events, pre-aggregate in the analytics engine (one row per account, IP and
minute is enough) before calling this.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta

from kaitiaki.accounts.identifiers import classify_ip
from kaitiaki.accounts.records import IpEvent, Link, SkippedIdentifier

_NON_PUBLIC_REASON = {
    "private": "private address (shared by everyone behind one router)",
    "cgnat": "carrier-grade NAT address (shared by a carrier's subscribers)",
    "loopback": "loopback address",
    "link-local": "link-local address",
    "multicast": "multicast address",
    "reserved": "reserved address",
}


def _epoch(timestamp: datetime) -> float:
    # ``datetime.timestamp`` reads a naive value as *local* time; the store's naive values are UTC.
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    return timestamp.timestamp()


def _parse(raw: str) -> tuple[str, str]:
    parsed = classify_ip(raw)
    if parsed is None:
        return raw, "not an IP address"
    ip, scope = parsed
    return ip, "" if scope == "public" else _NON_PUBLIC_REASON[scope]


def _closest(left: list[float], right: list[float]) -> tuple[float, float]:
    """The smallest gap between a time in ``left`` and one in ``right`` (both sorted), and when."""
    i = j = 0
    best, at = float("inf"), 0.0
    while i < len(left) and j < len(right):
        gap = abs(left[i] - right[j])
        if gap < best:
            best, at = gap, min(left[i], right[j])
        if left[i] < right[j]:
            i += 1
        else:
            j += 1
    return best, at


def weak_ip_links(
    events: Iterable[IpEvent],
    known: Collection[str],
    *,
    window: timedelta,
    max_accounts_per_ip: int,
    rejected: Collection[tuple[str, str]],
) -> tuple[list[Link], list[SkippedIdentifier]]:
    """Links between ``known`` accounts co-located on an IP, and the addresses left out.

    Events of accounts outside ``known`` still count towards an address's sharing (they are
    evidence that the address is shared) but are never linked. ``rejected`` holds ordered pairs
    ``(a, b)`` with ``a < b``. Per address the links form a spanning forest, closest pairs first,
    so three accounts on one address give two links, not three.
    """
    parsed: dict[str, tuple[str, str]] = {}  # raw text -> (normalised ip, why excluded or "")
    times: dict[str, dict[str, list[float]]] = {}  # ip -> account -> epoch seconds
    crowded: dict[str, set[str]] = {}  # ip -> accounts, once over the limit
    excluded: dict[tuple[str, str], set[str]] = {}  # (ip, why) -> accounts
    for event in events:
        parse = parsed.get(event.ip)
        if parse is None:
            parse = parsed[event.ip] = _parse(event.ip)
        ip, why = parse
        if why:
            excluded.setdefault(parse, set()).add(event.account_id)
            continue
        if ip in crowded:
            crowded[ip].add(event.account_id)
            continue
        accounts = times.setdefault(ip, {})
        accounts.setdefault(event.account_id, []).append(_epoch(event.timestamp))
        if len(accounts) > max_accounts_per_ip:
            crowded[ip] = set(times.pop(ip))

    links: list[Link] = []
    limit = window.total_seconds()
    for ip, accounts in times.items():
        members = sorted(a for a in accounts if a in known)
        if len(members) < 2:
            continue
        for stamps in accounts.values():
            stamps.sort()
        candidates: list[tuple[float, str, str, float]] = []
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if (a, b) in rejected:
                    continue
                gap, at = _closest(accounts[a], accounts[b])
                if gap <= limit:
                    candidates.append((gap, a, b, at))
        links.extend(_spanning(ip, sorted(candidates)))

    skipped = [
        SkippedIdentifier(
            "ip", ip, len(accounts), f"used by {len(accounts)} accounts (> {max_accounts_per_ip})"
        )
        for ip, accounts in crowded.items()
    ]
    skipped.extend(
        SkippedIdentifier("ip", value, len(accounts), reason)
        for (value, reason), accounts in excluded.items()
        if len(accounts) >= 2  # one account alone could never have linked: not worth reporting
    )
    return links, skipped


def _spanning(ip: str, candidates: list[tuple[float, str, str, float]]) -> list[Link]:
    """Kruskal over one address's candidate pairs (closest first): the strongest tree."""
    root: dict[str, str] = {}

    def find(account: str) -> str:
        while root.setdefault(account, account) != account:
            account = root[account]
        return account

    links = []
    for gap, a, b, at in candidates:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        root[rb] = ra
        when = datetime.fromtimestamp(at, UTC).isoformat()
        links.append(Link(a, b, f"ip={ip} ({gap:.0f} s apart at {when})"))
    return links
