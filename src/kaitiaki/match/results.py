"""A file's match and classification rows, as the scan and retroactive matching write them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from kaitiaki.match.classify import Classified
from kaitiaki.store.models import Classification, Match
from kaitiaki.store.rows import insert_rows


def label_row(evidence_id: int, sha256: str, verdict: Classified) -> dict[str, Any]:
    """A file's classification row in one evidence item, from its verdict."""
    best = verdict.best
    return {
        "evidence_id": evidence_id,
        "sha256": sha256,
        "label": verdict.label.value,
        "category": best.category if best else None,
        "hash_set_id": best.hash_set_id if best else None,
        "entry_id": best.entry_id if best else None,
        "signal": best.signal if best else None,
        "distance": best.distance if best else None,
        "series": best.series if best else None,
        "victim_identified": best.victim_identified if best else None,
    }


def write_matches(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Match rows; one already recorded (``uq_match``) is left as it is."""
    insert_rows(session, Match.__table__, rows)


def write_labels(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Classification rows, replacing the label a file had in its evidence item."""
    insert_rows(session, Classification.__table__, rows, update=LABEL_COLUMNS)


LABEL_COLUMNS = (
    "label",
    "category",
    "hash_set_id",
    "entry_id",
    "signal",
    "distance",
    "series",
    "victim_identified",
)
