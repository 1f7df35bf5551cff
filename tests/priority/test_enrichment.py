"""Enrichment CSV: accepted values, and bad files rejected whole with the row and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from priority_samples import add_subject
from sqlalchemy import select

from kaitiaki.priority import EnrichmentError, import_enrichment
from kaitiaki.store import Store
from kaitiaki.store.models import Enrichment


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "enrichment.csv"
    path.write_text(text)
    return path


def _stored(store: Store) -> set[tuple[str, str, str]]:
    with store.session() as session:
        return {(e.subject_id, e.indicator, e.value) for e in session.scalars(select(Enrichment))}


def test_import_and_replace(store: Store, tmp_path: Path) -> None:
    add_subject(store, "S1")
    add_subject(store, "S2")
    path = _csv(
        tmp_path,
        "subject_id,position_of_trust,access_to_children,prior_offences,travel,notes\n"
        "S1,Yes,1,false,,teacher\nS2,0,no,TRUE,y,\n",
    )
    result = import_enrichment(store, path, actor="cli:tester")
    assert (result.rows, result.values) == (2, 8)
    assert ("S1", "position_of_trust", "yes") in _stored(store)
    assert ("S1", "notes", "teacher") in _stored(store)
    assert ("S2", "prior_offences", "yes") in _stored(store)
    assert not any(s == "S1" and i == "travel" for s, i, _ in _stored(store))
    import_enrichment(
        store, _csv(tmp_path, "subject_id,prior_offences\nS2,no\n"), actor="cli:tester"
    )
    assert ("S2", "prior_offences", "no") in _stored(store)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("subject_id,shoe_size\nS1,9\n", r"unknown column\(s\) 'shoe_size'"),
        ("position_of_trust\nyes\n", "needs a 'subject_id' column"),
        ("subject_id,travel\nS1,yes\nS1,often\n", r"row 2 \(line 3\): travel = 'often'"),
        ("subject_id,travel\nS1,yes\nS9,no\n", r"row 2 \(line 3\): unknown subject 'S9'"),
        ("subject_id,travel\nS1,yes\n,no\n", "row 2 .*empty subject_id"),
    ],
)
def test_bad_files_are_rejected_whole(
    store: Store, tmp_path: Path, text: str, message: str
) -> None:
    add_subject(store, "S1")
    import_enrichment(store, _csv(tmp_path, "subject_id,travel\nS1,no\n"), actor="cli:tester")
    before = _stored(store)
    with pytest.raises(EnrichmentError, match=message):
        import_enrichment(store, _csv(tmp_path, text), actor="cli:tester")
    assert _stored(store) == before
