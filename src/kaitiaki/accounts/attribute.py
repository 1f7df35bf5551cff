"""Country attribution of subjects from the IP addresses of their flagged events.

Rules (each chosen so that a wrong country is never given silently):

* **Attributable events** are those on a public IP that is not hosting/VPN and has a country.
  Private and CGNAT addresses say nothing about a country; a hosting or VPN exit says where the
  server is, not the person.
* **Country** = the country with the most attributable events; ties go to the one with more
  distinct IPs, then the one seen most recently, then the lower code (so the result never
  depends on input order).
* **Confidence** = ``k / (n + 1)``, rounded to 3 places, where ``k`` events of ``n`` attributable
  ones are in that country. That is the share ``k / n`` shrunk by ``n / (n + 1)``: one event gives
  0.5, ten unanimous events 0.909, a hundred 0.99. Few events are weak evidence even when
  unanimous (one login from a friend's house), and the formula says so without a cliff.
* **Multi-country**: another country with at least 2 attributable events, or at least 10 % of
  them, marks the subject as seen in several countries (travellers, cross-border commuters, or
  two people wrongly merged); ``countries`` lists every country with its event count.
* **VPN/hosting**: ``vpn_or_hosting`` is set when half or more of the subject's flagged events
  came from hosting/VPN addresses, or when some did and none is attributable. Then the country
  comes only from the attributable events (a VPN user's slip outside the tunnel is evidence); with
  none, ``country`` is ``None`` and ``reason`` says it is behind hosting/VPN.
* **Unattributed**: no attributable events and no hosting: ``country`` is ``None`` and
  ``reason`` counts what was there instead (private/CGNAT, unknown IPs, no country).

Routing a country to an agency is the geo package's table, not done here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from kaitiaki.accounts.identifiers import normalise_ip

MULTI_COUNTRY_MIN_EVENTS = 2
MULTI_COUNTRY_MIN_SHARE = 0.10
# Scopes some lookups give instead of (or as well as) a ``hosting`` flag.
_HOSTING_SCOPES = frozenset({"hosting", "vpn", "proxy", "tor", "anonymous"})

IpUse = Literal["attributable", "hosting", "non_public", "no_country", "unknown"]
AttributionStatus = Literal["attributed", "vpn_or_hosting", "unattributed", "no_events"]

_NOT_USED = {
    "hosting": "from hosting/VPN IPs",
    "non_public": "from private/CGNAT/reserved IPs",
    "no_country": "from public IPs of unknown country",
    "unknown": "from IPs missing from the lookup",
}


class IpLike(Protocol):
    """What attribution needs to know of an IP (``kaitiaki.geo.IpInfo`` has these attributes)."""

    @property
    def scope(self) -> str: ...  # public, private, cgnat, ...
    @property
    def country(self) -> str | None: ...  # ISO 3166-1 alpha-2
    @property
    def hosting(self) -> bool: ...  # hosting provider, VPN exit, proxy
    @property
    def asn(self) -> int | None: ...


class SubjectLike(Protocol):
    """A subject as ``resolve.Subject`` gives it."""

    @property
    def subject_id(self) -> str: ...
    @property
    def account_ids(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class SubjectEvent:
    """A flagged event reduced to what attribution needs. Naive timestamps are taken as UTC."""

    account_id: str
    ip: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class IpEvidence:
    """One IP of a subject's flagged events and whether it counted (``use``)."""

    ip: str
    country: str | None
    events: int
    first: datetime
    last: datetime
    use: IpUse
    asn: int | None = None

    @property
    def used(self) -> bool:
        return self.use == "attributable"


@dataclass(frozen=True, slots=True)
class Attribution:
    """A subject's country, how sure, and the evidence; ``reason`` explains it in words."""

    subject_id: str
    country: str | None
    confidence: float
    countries: tuple[tuple[str, int], ...]  # (country, attributable events), most first
    multi_country: bool
    vpn_or_hosting: bool
    status: AttributionStatus
    reason: str
    events: int  # flagged events of the subject, all IPs
    evidence: tuple[IpEvidence, ...]  # every IP, most events first


@dataclass(frozen=True, slots=True)
class IpActivity:
    """Flagged events of one account on one IP, pre-aggregated.

    What ``GROUP BY account, ip`` gives in the analytics engine (count, min and max timestamp):
    at tens of millions of events, passing these instead of single ``SubjectEvent`` rows makes
    attribution independent of the event count.
    """

    account_id: str
    ip: str
    events: int
    first: datetime
    last: datetime


def attribute_subjects(
    subjects: Iterable[SubjectLike],
    flagged_events: Iterable[SubjectEvent | IpActivity],
    ip_info: Mapping[str, IpLike],
) -> list[Attribution]:
    """One attribution per subject, in the order given (subjects without events included).

    ``flagged_events`` may mix single events and pre-aggregated ``IpActivity`` rows. ``ip_info``
    is looked up with the event's IP as written, then in canonical form
    (``identifiers.normalise_ip``); an IP in neither is ``unknown`` and never attributes.
    Events of accounts outside ``subjects`` are ignored.
    """
    subjects = list(subjects)
    subject_of = {a: s.subject_id for s in subjects for a in s.account_ids}
    # subject -> ip -> tally: tens of millions of events fold into one row per address.
    seen: dict[str, dict[str, _Tally]] = {}
    for event in flagged_events:
        owner = subject_of.get(event.account_id)
        if owner is None:
            continue
        if isinstance(event, SubjectEvent):
            count, first, last = 1, _utc(event.timestamp), _utc(event.timestamp)
        else:
            count, first, last = event.events, _utc(event.first), _utc(event.last)
        per_ip = seen.setdefault(owner, {})
        tally = per_ip.get(event.ip)
        if tally is None:
            per_ip[event.ip] = _Tally(count, first, last)
        else:
            tally.add(count, first, last)
    lookup = _Lookup(ip_info)
    return [_attribute(s.subject_id, lookup.evidence(seen.get(s.subject_id, {}))) for s in subjects]


def _utc(when: datetime) -> datetime:
    # The store keeps UTC; a naive value is UTC, and must compare with aware ones.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class _Tally:
    __slots__ = ("events", "first", "last")

    def __init__(self, events: int, first: datetime, last: datetime) -> None:
        self.events, self.first, self.last = events, first, last

    def add(self, events: int, first: datetime, last: datetime) -> None:
        self.events += events
        self.first = min(self.first, first)
        self.last = max(self.last, last)


class _Lookup:
    """``ip_info`` lookups, each IP classified once however many subjects use it."""

    def __init__(self, ip_info: Mapping[str, IpLike]) -> None:
        self._info = ip_info
        self._cache: dict[str, tuple[str, IpUse, str | None, int | None]] = {}

    def classify(self, ip: str) -> tuple[str, IpUse, str | None, int | None]:
        """(canonical ip, use, country, asn) of one address."""
        hit = self._cache.get(ip)
        if hit is None:
            hit = self._cache[ip] = self._classify(ip)
        return hit

    def _classify(self, ip: str) -> tuple[str, IpUse, str | None, int | None]:
        info = self._info.get(ip)
        # Dotted IPv4 found as written is already canonical: skip the (slow) parse.
        canonical = ip if info is not None and ":" not in ip else (normalise_ip(ip) or ip)
        if info is None:
            info = self._info.get(canonical)
        if info is None:
            return canonical, "unknown", None, None
        scope = info.scope.lower()
        country = info.country.strip().upper() if info.country else None
        use: IpUse
        if scope in _HOSTING_SCOPES or (scope == "public" and info.hosting):
            use = "hosting"
        elif scope != "public":
            use = "non_public"
        elif country is None:
            use = "no_country"
        else:
            use = "attributable"
        return canonical, use, country, info.asn

    def evidence(self, per_ip: Mapping[str, _Tally]) -> list[IpEvidence]:
        rows: dict[str, IpEvidence] = {}
        for ip, tally in per_ip.items():
            canonical, use, country, asn = self.classify(ip)
            row = IpEvidence(canonical, country, tally.events, tally.first, tally.last, use, asn)
            if canonical in rows:  # one address written two ways ("::ffff:1.2.3.4", "1.2.3.4")
                old = rows[canonical]
                row = IpEvidence(
                    canonical,
                    country,
                    old.events + row.events,
                    min(old.first, row.first),
                    max(old.last, row.last),
                    use,
                    asn,
                )
            rows[canonical] = row
        return sorted(rows.values(), key=lambda e: (-e.events, e.ip))


def _attribute(subject: str, evidence: list[IpEvidence]) -> Attribution:
    total = sum(e.events for e in evidence)
    unused: dict[IpUse, int] = {}
    per_country: dict[str, list[IpEvidence]] = {}
    for e in evidence:
        if e.used and e.country is not None:
            per_country.setdefault(e.country, []).append(e)
        else:
            unused[e.use] = unused.get(e.use, 0) + e.events
    hosting = unused.get("hosting", 0)
    n = total - sum(unused.values())
    vpn = hosting > 0 and (2 * hosting >= total or n == 0)
    not_used = "; ".join(f"{count} {_NOT_USED[use]}" for use, count in sorted(unused.items()))
    tail = f"; not used: {not_used}" if not_used else ""

    def rank(country: str) -> tuple[int, int, float, str]:
        # Ascending sort: most events, then most IPs, then most recent, then the lower code.
        rows = per_country[country]
        latest = max(e.last for e in rows).timestamp()
        return (-sum(e.events for e in rows), -len(rows), -latest, country)

    ranked = sorted(per_country, key=rank)
    countries = tuple((c, sum(e.events for e in per_country[c])) for c in ranked)
    evidence_t = tuple(evidence)
    if not total:
        return Attribution(
            subject, None, 0.0, (), False, False, "no_events", "no flagged events", 0, evidence_t
        )
    if not ranked:
        if vpn:
            status: AttributionStatus = "vpn_or_hosting"
            reason = f"country unknown: behind hosting/VPN, no attributable events{tail}"
        else:
            status = "unattributed"
            reason = f"unattributed: no attributable events{tail}"
        return Attribution(subject, None, 0.0, (), False, vpn, status, reason, total, evidence_t)

    country, k = countries[0]
    others = countries[1:]
    multi = any(
        c >= MULTI_COUNTRY_MIN_EVENTS or c / n >= MULTI_COUNTRY_MIN_SHARE for _, c in others
    )
    reason = f"{country} from {k} of {n} attributable events on {len(per_country[country])} IPs"
    if others:
        label = "seen in several countries" if multi else "also"
        reason += f"; {label}: " + ", ".join(f"{c} {count}" for c, count in others)
    if vpn:
        reason += "; mostly behind hosting/VPN: country from the events outside it"
    reason += tail
    confidence = round(k / (n + 1), 3)
    return Attribution(
        subject, country, confidence, countries, multi, vpn, "attributed", reason, total, evidence_t
    )
