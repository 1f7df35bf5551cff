"""Pairwise precision/recall and country scores on hand examples and generated partitions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitiaki.accounts import (
    country_accuracy,
    pairwise_counts,
    pairwise_precision_recall,
    silent_misattributions,
)


def test_hand_example() -> None:
    truth = [["a", "b", "c"], ["d", "e"], ["f"]]
    predicted = [["a", "b"], ["c", "d", "e"], ["f"]]
    # Predicted pairs ab, cd, ce, de; true pairs ab, ac, bc, de: ab and de are right.
    counts = pairwise_counts(predicted, truth)
    assert counts == (2, 4, 4)
    assert pairwise_precision_recall(predicted, truth) == (0.5, 0.5)


def test_singletons_and_missing_accounts() -> None:
    assert pairwise_precision_recall([["a"], ["b"]], [["a"], ["b"]]) == (1.0, 1.0)
    assert pairwise_precision_recall([["a"], ["b"]], [["a", "b"]]) == (1.0, 0.0)
    assert pairwise_precision_recall([["a", "b"]], [["a"], ["b"]]) == (0.0, 1.0)
    # "c" missing from the prediction is a predicted singleton: the pair a-c is missed.
    assert pairwise_precision_recall([["a", "b"]], [["a", "b", "c"]]) == (1.0, 1 / 3)
    # "z" missing from the truth is a true singleton: a-z is a wrong pair.
    assert pairwise_precision_recall([["a", "b", "z"]], [["a", "b"]]) == (1 / 3, 1.0)
    assert pairwise_precision_recall([], []) == (1.0, 1.0)


def test_account_in_two_clusters_is_refused() -> None:
    with pytest.raises(ValueError, match="two predicted"):
        pairwise_counts([["a", "b"], ["b"]], [["a", "b"]])


_partitions = st.lists(st.integers(0, 6), min_size=1, max_size=40).map(
    lambda labels: [
        [f"acc{i}" for i, label in enumerate(labels) if label == cluster]
        for cluster in sorted(set(labels))
    ]
)


@given(_partitions)
def test_perfect_prediction_and_merging_everything(truth: list[list[str]]) -> None:
    assert pairwise_precision_recall(truth, truth) == (1.0, 1.0)
    everything = [[a for cluster in truth for a in cluster]]
    precision, recall = pairwise_precision_recall(everything, truth)
    assert recall == 1.0
    assert 0.0 <= precision <= 1.0
    singletons = [[a] for cluster in truth for a in cluster]
    assert pairwise_precision_recall(singletons, truth)[0] == 1.0


@given(_partitions, _partitions)
def test_scores_are_bounded_and_symmetric(left: list[list[str]], right: list[list[str]]) -> None:
    p, r = pairwise_precision_recall(left, right)
    assert 0.0 <= p <= 1.0 and 0.0 <= r <= 1.0
    swapped = pairwise_counts(right, left)
    counts = pairwise_counts(left, right)
    assert (swapped.true_positive, swapped.predicted, swapped.true) == (
        counts.true_positive,
        counts.true,
        counts.predicted,
    )


def test_country_accuracy() -> None:
    truth = {"p1": "NZ", "p2": "AU", "p3": "gb", "p4": "US"}
    predicted = {"p1": "NZ", "p2": "NZ", "p3": "GB", "p4": None}
    assert country_accuracy(predicted, truth) == 0.5
    assert country_accuracy(predicted, truth, exclude={"p2", "p4"}) == 1.0
    assert country_accuracy({}, {}) == 1.0


def test_silent_misattributions() -> None:
    truth = {"v1": "NZ", "v2": "NZ", "v3": "NZ", "v4": "NZ"}
    predicted = {"v1": "US", "v2": "US", "v3": None, "v4": "NZ"}
    flagged = {"v1": True, "v2": False, "v3": True, "v4": False}
    assert silent_misattributions(predicted, flagged, truth, truth) == ["v2"]
