"""The factors of a subject's priority: each a small function of the subject's data.

Every factor returns its points and a reason in words, so an investigator can see why a subject
ranks where it does and disagree with it. The score helps a person decide; it decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kaitiaki.priority.weights import FactorWeight, Weights

INDICATORS: tuple[str, ...] = (
    "position_of_trust",
    "access_to_children",
    "prior_offences",
    "travel",
)
_INDICATOR_WORDS = {
    "position_of_trust": "holds a position of trust",
    "access_to_children": "has access to children",
    "prior_offences": "has prior offences",
    "travel": "travels (possible offending abroad)",
}


@dataclass
class SubjectData:
    """What the factors read about one subject, summed over its accounts."""

    subject_id: str
    accounts: list[str] = field(default_factory=list)
    flagged_files: int = 0
    uploads: int = 0
    downloads: int = 0
    views: int = 0
    shares: int = 0
    categories: set[str] = field(default_factory=set)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    # None: not computed, because no records workspace was given.
    new_uploads: int | None = None
    reach: int | None = None
    indicators: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FactorResult:
    factor: str
    value: float
    weight: float
    points: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "value": self.value,
            "weight": self.weight,
            "points": self.points,
            "reason": self.reason,
        }


def _scaled(spec: FactorWeight, value: float) -> float:
    return round(spec.weight * min(value, spec.full_at) / spec.full_at, 2)


def new_material(data: SubjectData, weights: Weights) -> tuple[float, float, str]:
    if data.new_uploads is None:
        return 0, 0, "not assessed: no records"
    n = data.new_uploads
    if not n:
        return 0, 0, "uploaded no new material"
    reason = f"uploaded {n} new file(s), unknown to every hash set and later categorised"
    return n, _scaled(weights.factors["new_material"], n), reason


def distribution(data: SubjectData, weights: Weights) -> tuple[float, float, str]:
    n = data.uploads + data.shares
    if not n:
        return 0, 0, "did not upload or share flagged files"
    reason = f"uploaded flagged files {data.uploads} time(s), shared {data.shares} time(s)"
    return n, _scaled(weights.factors["distribution"], n), reason


def severity(data: SubjectData, weights: Weights) -> tuple[float, float, str]:
    if not data.categories:
        return 0, 0, "no categorised files"
    shares = {c: weights.severity.get(c, weights.severity_unknown) for c in data.categories}
    worst = max(sorted(shares), key=lambda c: shares[c])
    reason = f"most severe category {worst} (of {', '.join(sorted(data.categories))})"
    return shares[worst], _scaled(weights.factors["severity"], shares[worst]), reason


def volume(data: SubjectData, weights: Weights) -> tuple[float, float, str]:
    n = data.flagged_files
    reason = f"{n} flagged file(s) across {len(data.accounts)} account(s)"
    return n, _scaled(weights.factors["volume"], n), reason


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time in the store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def persistence(data: SubjectData, weights: Weights) -> tuple[float, float, str]:
    if data.first_seen is None or data.last_seen is None:
        return 0, 0, "no dates of activity"
    days = (_utc(data.last_seen) - _utc(data.first_seen)).days + 1
    reason = f"active over {days} day(s), {data.first_seen:%Y-%m-%d} to {data.last_seen:%Y-%m-%d}"
    return days, _scaled(weights.factors["persistence"], days), reason


def reach(data: SubjectData, weights: Weights) -> tuple[float, float, str]:
    if data.reach is None:
        return 0, 0, "not assessed: no records"
    n = data.reach
    reason = f"{n} other account(s) downloaded or viewed flagged files they uploaded or shared"
    return n, _scaled(weights.factors["reach"], n), reason


def _indicator(name: str) -> Callable[[SubjectData, Weights], tuple[float, float, str]]:
    def factor(data: SubjectData, weights: Weights) -> tuple[float, float, str]:
        value = data.indicators.get(name)
        if value is None:
            return 0, 0, f"{name.replace('_', ' ')}: not reported"
        if not value:
            return 0, 0, f"{name.replace('_', ' ')}: reported no"
        words = f"{_INDICATOR_WORDS[name]} (partner enrichment)"
        return 1, _scaled(weights.factors[name], 1), words

    return factor


FACTORS: dict[str, Callable[[SubjectData, Weights], tuple[float, float, str]]] = {
    "new_material": new_material,
    "distribution": distribution,
    "severity": severity,
    "volume": volume,
    "persistence": persistence,
    "reach": reach,
    **{name: _indicator(name) for name in INDICATORS},
}


def evaluate(data: SubjectData, weights: Weights) -> list[FactorResult]:
    """Every factor for one subject, highest points first (the order a reader wants)."""
    results = []
    for name, factor in FACTORS.items():
        value, points, reason = factor(data, weights)
        results.append(FactorResult(name, value, weights.factors[name].weight, points, reason))
    return sorted(results, key=lambda r: -r.points)
