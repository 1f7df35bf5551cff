"""Explainable prioritisation of subjects: factors, weights as data, tiers and overrides."""

from kaitiaki.priority.enrichment import EnrichmentError, import_enrichment
from kaitiaki.priority.factors import FACTORS, INDICATORS, FactorResult, SubjectData, evaluate
from kaitiaki.priority.score import (
    PriorityError,
    PriorityResult,
    override,
    priorities,
    prioritise,
    subject_data,
)
from kaitiaki.priority.weights import (
    TIERS,
    Weights,
    WeightsError,
    default_weights,
    load_weights,
)

__all__ = [
    "FACTORS",
    "INDICATORS",
    "TIERS",
    "EnrichmentError",
    "FactorResult",
    "PriorityError",
    "PriorityResult",
    "SubjectData",
    "Weights",
    "WeightsError",
    "default_weights",
    "evaluate",
    "import_enrichment",
    "load_weights",
    "override",
    "priorities",
    "prioritise",
    "subject_data",
]
