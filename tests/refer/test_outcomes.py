"""Partners' outcome CSV: status changes through the lifecycle, counts, all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kaitiaki.refer.lifecycle import history
from kaitiaki.refer.outcomes import OutcomesError, import_outcomes
from kaitiaki.store import Store
from kaitiaki.store.models import Outcome, Referral, ReferralSubject, Subject

HEADER = "referral_id,subject_id,status,date,arrested,children_safeguarded,note\n"


def _setup(store: Store) -> None:
    with store.session() as session:
        session.add_all([Subject(id="S1", country="NZ"), Subject(id="S2", country="AU")])
        session.add(Referral(id="REF-1", agency="Synthetic Police", country="NZ", status="sent"))
        session.add(ReferralSubject(subject_id="S1", referral_id="REF-1"))


def _outcomes(store: Store) -> list[tuple[str, int, str]]:
    with store.session() as session:
        return [(o.kind, o.count, o.note) for o in session.scalars(select(Outcome))]


def test_import_applies_statuses_and_counts(store: Store, tmp_path: Path) -> None:
    _setup(store)
    path = tmp_path / "outcomes.csv"
    path.write_text(
        HEADER + "REF-1,S1,acknowledged,2021-04-01,,,received\n"
        "REF-1,S1,investigating,2021-04-10,,,\n"
        "REF-1,S1,warrant,2021-05-01,,,\n"
        "REF-1,S1,arrest,2021-05-02,1,3,three children safeguarded\n"
    )
    result = import_outcomes(store, path)
    assert (result.rows, result.status_changes) == (4, 4)
    assert (result.arrested, result.children_safeguarded) == (1, 3)
    assert [c.status for c in history(store, "REF-1")][-1] == "arrest"
    assert history(store, "REF-1")[0].note == "received"
    assert sorted(_outcomes(store)) == [
        ("arrested", 1, "three children safeguarded"),
        ("children_safeguarded", 3, "three children safeguarded"),
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "REF-1,S1,arrest,2021-04-01,,,\n",
            r"row 2 \(line 3\): cannot go from 'acknowledged' to 'arrest'",
        ),
        ("REF-1,S1,,2021-13-01,,,\n", "row 2 .*not an ISO date"),
        ("REF-1,S1,,,-1,,\n", "row 2 .*arrested = -1 is negative"),
        ("REF-1,S1,,,,two,\n", "row 2 .*children_safeguarded = 'two' is not a whole number"),
        ("REF-9,S1,,,1,,\n", "row 2 .*unknown referral 'REF-9'"),
        ("REF-1,S2,,,1,,\n", "row 2 .*subject 'S2' is not in referral 'REF-1'"),
    ],
)
def test_a_bad_row_leaves_the_store_unchanged(
    store: Store, tmp_path: Path, rows: str, message: str
) -> None:
    _setup(store)
    path = tmp_path / "outcomes.csv"
    # The first row is good; it must be rolled back with the bad one.
    path.write_text(HEADER + "REF-1,S1,acknowledged,2021-04-01,1,1,ok\n" + rows)
    with pytest.raises(OutcomesError, match=message):
        import_outcomes(store, path)
    assert _outcomes(store) == []
    assert history(store, "REF-1") == []
    with store.session() as session:
        referral = session.get(Referral, "REF-1")
        assert referral is not None and referral.status == "sent"


def test_unknown_column_is_rejected(sqlite_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text("referral_id,sentence\nREF-1,5y\n")
    with pytest.raises(OutcomesError, match=r"unknown column.*'sentence'"):
        import_outcomes(sqlite_store, path)
