"""Scores of resolution and attribution against a simulated operation's ground truth.

Resolution uses the standard pairwise metric of entity resolution: every unordered pair of
accounts is either co-clustered or not, in the prediction and in the truth.

* precision = true pairs predicted / pairs predicted; recall = true pairs predicted / true pairs;
* an account missing from one side is a singleton there (it joins no pair);
* singletons contribute no pairs; with no predicted pairs precision is 1.0 (nothing claimed,
  nothing wrong), with no true pairs recall is 1.0 (nothing to find), so an all-singleton truth
  predicted as all singletons scores 1.0/1.0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple


class PairCounts(NamedTuple):
    """Pair counts behind precision and recall."""

    true_positive: int
    predicted: int
    true: int

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.true if self.true else 1.0


def _pairs(size: int) -> int:
    return size * (size - 1) // 2


def _labels(clusters: Iterable[Sequence[str]], side: str) -> dict[str, int]:
    labels: dict[str, int] = {}
    for number, cluster in enumerate(clusters):
        for account in set(cluster):
            if account in labels:
                raise ValueError(f"account {account!r} is in two {side} clusters")
            labels[account] = number
    return labels


def pairwise_counts(
    predicted: Iterable[Sequence[str]], truth: Iterable[Sequence[str]]
) -> PairCounts:
    """The pair counts of ``predicted`` clusters against ``truth`` clusters (accounts ids).

    Linear in the number of accounts: the true positives are counted from the sizes of the
    prediction x truth intersections, never by listing pairs.
    """
    predicted_of = _labels(predicted, "predicted")
    truth_of = _labels(truth, "truth")
    predicted_sizes = Counter(predicted_of.values())
    truth_sizes = Counter(truth_of.values())
    both = Counter(
        (label, truth_of[account]) for account, label in predicted_of.items() if account in truth_of
    )
    return PairCounts(
        true_positive=sum(_pairs(n) for n in both.values()),
        predicted=sum(_pairs(n) for n in predicted_sizes.values()),
        true=sum(_pairs(n) for n in truth_sizes.values()),
    )


def pairwise_precision_recall(
    predicted: Iterable[Sequence[str]], truth: Iterable[Sequence[str]]
) -> tuple[float, float]:
    """(precision, recall) over account pairs; see the module docstring for the conventions."""
    counts = pairwise_counts(predicted, truth)
    return counts.precision, counts.recall


def country_accuracy(
    predicted: Mapping[str, str | None],
    truth: Mapping[str, str],
    *,
    exclude: Collection[str] = (),
) -> float:
    """Share of ``truth`` keys (accounts or persons) whose predicted country is the true one.

    A key missing from ``predicted`` or predicted ``None`` counts as wrong: an unattributed
    subject is not a correct one. ``exclude`` drops keys from the score (the targets exclude
    subjects behind VPN/hosting, scored by ``silent_misattributions`` instead). 1.0 when nothing
    is left to score.
    """
    keys = [key for key in truth if key not in exclude]
    if not keys:
        return 1.0
    right = sum(1 for key in keys if (predicted.get(key) or "").upper() == truth[key].upper())
    return right / len(keys)


def silent_misattributions(
    predicted: Mapping[str, str | None],
    flagged: Mapping[str, bool],
    truth: Mapping[str, str],
    behind_vpn: Iterable[str],
) -> list[str]:
    """Keys behind a VPN/hosting that got a wrong country *without* the VPN/hosting flag.

    The target for these subjects is not a right country (often unknowable) but no silent wrong
    one: the list should be empty.
    """
    return sorted(
        key
        for key in behind_vpn
        if predicted.get(key) not in (None, truth.get(key, "").upper()) and not flagged.get(key)
    )
