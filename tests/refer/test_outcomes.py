"""Partners' outcome CSV: status changes through the lifecycle, counts, all-or-nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from kaitiaki.refer.outcomes import OutcomesError
from kaitiaki.refer.service import history, import_outcomes
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Outcome, Referral, ReferralSubject, Subject
from kaitiaki.users import Role, Scope, jurisdiction

OPERATOR = Scope.operator()
ACTOR = "cli:ops.lead"

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
    result = import_outcomes(store, path, actor=ACTOR, scope=OPERATOR)
    assert (result.rows, result.status_changes) == (4, 4)
    assert (result.arrested, result.children_safeguarded) == (1, 3)
    assert [c.status for c in history(store, "REF-1", scope=OPERATOR)][-1] == "arrest"
    assert history(store, "REF-1", scope=OPERATOR)[0].note == "received"
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
        ("REF-1,S1,,,1000001,,\n", "row 2 .*arrested = 1000001 is more than 1,000,000"),
        ("REF-1,S1,,,9" + "9" * 5000 + ",,\n", "row 2 .*arrested = .* is not a whole number"),
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
        import_outcomes(store, path, actor=ACTOR, scope=OPERATOR)
    assert _outcomes(store) == []
    assert history(store, "REF-1", scope=OPERATOR) == []
    with store.session() as session:
        referral = session.get(Referral, "REF-1")
        assert referral is not None and referral.status == "sent"


def test_unknown_column_is_rejected(sqlite_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text("referral_id,sentence\nREF-1,5y\n")
    with pytest.raises(OutcomesError, match=r"unknown column.*'sentence'"):
        import_outcomes(sqlite_store, path, actor=ACTOR, scope=OPERATOR)


def _audit(store: Store) -> list[tuple[str, str, str, dict[str, object] | None]]:
    with store.session() as session:
        return [
            (e.actor, e.action, e.target_id, e.details)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def test_every_imported_change_is_one_audit_entry_naming_the_importer(
    store: Store, tmp_path: Path
) -> None:
    """Before, ``outcomes import`` wrote outcomes with no audit entry at all."""
    _setup(store)
    path = tmp_path / "update.csv"
    path.write_text(
        HEADER + "REF-1,S1,acknowledged,2021-04-01,,,received\n"
        "REF-1,S1,,2021-05-02,2,3,two arrested\n"
        "REF-1,,,,,,partner will call back\n"
    )
    import_outcomes(store, path, actor=ACTOR, scope=OPERATOR)
    with store.session() as session:
        stored = len(session.scalars(select(Outcome)).all())
    entries = _audit(store)
    assert stored == 3  # arrested, children_safeguarded, the note
    assert [(actor, action, target) for actor, action, target, _ in entries] == [
        (ACTOR, "referral.status", "REF-1"),
        (ACTOR, "referral.outcome", "REF-1"),
        (ACTOR, "referral.outcome", "REF-1"),
        (ACTOR, "referral.outcome", "REF-1"),
    ]
    details = [d for _, action, _, d in entries if action == "referral.outcome"]
    assert [(d["kind"], d["count"]) for d in details if d] == [
        ("arrested", 2),
        ("children_safeguarded", 3),
        ("note", 0),
    ]
    assert all(d and d["file"] == "update.csv" and "row" in str(d["row"]) for d in details)


def test_a_liaison_import_reaches_only_its_jurisdiction(store: Store, tmp_path: Path) -> None:
    ncb = "INTERPOL National Central Bureau"
    with store.session() as session:
        session.add_all(
            [
                Referral(id="R-TO", agency=ncb, country="TO", status="sent"),
                Referral(id="R-FJ", agency=ncb, country="FJ", status="sent"),
            ]
        )
    tonga = Scope(Role.LIAISON, frozenset({jurisdiction("TO", ncb)}))
    path = tmp_path / "update.csv"
    path.write_text(HEADER + "R-TO,,acknowledged,,,,\nR-FJ,,,,5,,\n")
    with pytest.raises(OutcomesError, match=r"row 2 .*unknown referral 'R-FJ'"):
        import_outcomes(store, path, actor="web:tonga", scope=tonga)
    assert _audit(store) == [] and _outcomes(store) == []
    draft = tmp_path / "draft.csv"
    with store.session() as session:
        session.add(Referral(id="R-TO-2", agency=ncb, country="TO", status="draft"))
    draft.write_text(HEADER + "R-TO-2,,sent,,,,\n")
    with pytest.raises(OutcomesError, match="only the sending side sends"):
        import_outcomes(store, draft, actor="web:tonga", scope=tonga)
    assert _audit(store) == []


def test_the_cli_import_is_audited_as_the_operator(sqlite_store: Store, tmp_path: Path) -> None:
    _setup(sqlite_store)
    path = tmp_path / "update.csv"
    path.write_text(HEADER + "REF-1,S1,,2021-05-02,1,,arrested\n")
    cli = (
        "import typer; from kaitiaki.cli import tracking; "
        "app = typer.Typer(); tracking.register(app); app()"
    )
    done = subprocess.run(
        [sys.executable, "-c", cli, "outcomes", "import", str(path), "--db", sqlite_store.url],
        capture_output=True,
        text=True,
        env={**os.environ, "KAITIAKI_USER": "ops.lead"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [(a, action) for a, action, _, _ in _audit(sqlite_store)] == [
        ("cli:ops.lead", "referral.outcome")
    ]
    # No way left to name someone else as the importer.
    forged = subprocess.run(
        [sys.executable, "-c", cli, "outcomes", "import", str(path), "--by", "partner"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert forged.returncode == 2
