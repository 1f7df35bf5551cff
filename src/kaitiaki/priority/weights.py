"""Weights and tier thresholds as data: a default, overridable by an investigator's TOML file.

A user file only needs the values it changes, e.g.::

    [factors.new_material]
    weight = 50

    [severity]
    "1" = 1.0

    [tiers]
    very_high = 70
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIERS: tuple[str, ...] = ("very high", "high", "medium", "low")


class WeightsError(ValueError):
    """A weights file that cannot be used; names the file and the key."""


@dataclass(frozen=True, slots=True)
class FactorWeight:
    """``weight`` points at most; ``full_at`` is the value that earns all of them (linear below)."""

    weight: float
    full_at: float = 1.0


# Producers first: new material that reviewers later categorised outweighs everything else,
# then distribution and a partner's indicators of risk to children; volume matters least.
DEFAULT: dict[str, Any] = {
    "factors": {
        "new_material": {"weight": 40, "full_at": 1},
        "distribution": {"weight": 15, "full_at": 10},
        "severity": {"weight": 10, "full_at": 1},
        "volume": {"weight": 8, "full_at": 100},
        "persistence": {"weight": 7, "full_at": 365},
        "reach": {"weight": 10, "full_at": 20},
        "position_of_trust": {"weight": 15, "full_at": 1},
        "access_to_children": {"weight": 20, "full_at": 1},
        "prior_offences": {"weight": 12, "full_at": 1},
        "travel": {"weight": 8, "full_at": 1},
    },
    # Share of the severity weight a category earns. Codes of the profiles in hashsets.profiles:
    # VICS US 2.0 (1 CSAM, 2 exploitive, 3 CGI), CAID A/B/C, NCMEC A1/A2/B1/B2.
    "severity": {
        "1": 1.0,
        "2": 0.5,
        "3": 0.4,
        "A": 1.0,
        "B": 0.7,
        "C": 0.4,
        "A1": 1.0,
        "A2": 0.8,
        "B1": 0.5,
        "B2": 0.4,
    },
    # Share for a flagged category not in the table (a reviewer's own code, say).
    "severity_unknown": 0.5,
    # Lowest score of each tier above "low".
    "tiers": {"very_high": 60, "high": 35, "medium": 15},
}


@dataclass(frozen=True, slots=True)
class Weights:
    factors: dict[str, FactorWeight]
    severity: dict[str, float]
    severity_unknown: float
    tiers: dict[str, float]

    def tier(self, score: float) -> str:
        for name in ("very_high", "high", "medium"):
            if score >= self.tiers[name]:
                return name.replace("_", " ")
        return "low"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _number(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise WeightsError(f"{where}: expected a number >= 0, got {value!r}")
    return float(value)


def weights_from(data: dict[str, Any], where: str = "weights") -> Weights:
    """Validate a (merged) mapping; unknown factors or keys are errors, not silently ignored."""
    unknown = set(data) - set(DEFAULT)
    if unknown:
        raise WeightsError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    factors: dict[str, FactorWeight] = {}
    for name, spec in data["factors"].items():
        if name not in DEFAULT["factors"]:
            known = ", ".join(DEFAULT["factors"])
            raise WeightsError(f"{where}: unknown factor {name!r}; known factors: {known}")
        if not isinstance(spec, dict) or set(spec) - {"weight", "full_at"}:
            raise WeightsError(f"{where}: factors.{name} takes only 'weight' and 'full_at'")
        full_at = _number(f"{where}: factors.{name}.full_at", spec["full_at"])
        if full_at == 0:
            raise WeightsError(f"{where}: factors.{name}.full_at must be > 0")
        factors[name] = FactorWeight(
            _number(f"{where}: factors.{name}.weight", spec["weight"]), full_at
        )
    severity = {str(k): _number(f"{where}: severity.{k}", v) for k, v in data["severity"].items()}
    tiers = {k: _number(f"{where}: tiers.{k}", v) for k, v in data["tiers"].items()}
    if set(tiers) != {"very_high", "high", "medium"}:
        raise WeightsError(f"{where}: tiers takes exactly very_high, high and medium")
    if not tiers["very_high"] >= tiers["high"] >= tiers["medium"]:
        raise WeightsError(f"{where}: tiers must satisfy very_high >= high >= medium")
    unknown_share = _number(f"{where}: severity_unknown", data["severity_unknown"])
    return Weights(factors, severity, unknown_share, tiers)


def default_weights() -> Weights:
    return weights_from(DEFAULT, "default weights")


def load_weights(path: Path) -> Weights:
    """The defaults with a user's TOML file laid over them."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise WeightsError(f"{path}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise WeightsError(f"{path}: not valid TOML: {exc}") from exc
    return weights_from(_merge(DEFAULT, data), str(path))
