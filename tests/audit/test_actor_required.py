"""The changes that once wrote no audit entry (or wrote it as whoever ran the server) take the
actor as a required argument: a blank one is refused before anything changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from audit_samples import entries
from sqlalchemy import func, select

from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, Priority, Subject


def _prioritise(store: Store, tmp_path: Path, actor: str) -> None:
    from kaitiaki.priority import prioritise

    prioritise(store, actor=actor)


def _scan(store: Store, tmp_path: Path, actor: str) -> None:
    from kaitiaki.scan.runner import run_scan

    (tmp_path / "device").mkdir(exist_ok=True)
    (tmp_path / "device" / "note.txt").write_text("benign")
    run_scan(store, [tmp_path / "device"], "device", workers=1, actor=actor)


def _evidence(store: Store, tmp_path: Path, actor: str) -> None:
    from kaitiaki.scan.runner import ensure_evidence

    ensure_evidence(store, "device", "", "", actor=actor)


def _analyse(store: Store, tmp_path: Path, actor: str) -> None:
    from kaitiaki.operation.analyse import analyse_operation

    missing = tmp_path / "missing.csv"
    analyse_operation(store, [missing], missing, missing, tmp_path / "out", actor=actor)


def _password(store: Store, tmp_path: Path, actor: str) -> None:
    from kaitiaki.users import Role, add_user
    from kaitiaki.users.accounts import set_password

    if not entries(store):
        add_user(store, "hana", Role.INVESTIGATOR, "a long test password", actor="test:setup")
    set_password(store, "hana", "another long password", actor=actor)


CHANGES: dict[str, Callable[[Store, Path, str], None]] = {
    "prioritise": _prioritise,
    "run_scan": _scan,
    "ensure_evidence": _evidence,
    "analyse_operation": _analyse,
    "set_password": _password,
}


def _counts(store: Store) -> tuple[int, int]:
    with store.session() as session:
        evidence = session.scalar(select(func.count()).select_from(Evidence)) or 0
        priorities = session.scalar(select(func.count()).select_from(Priority)) or 0
    return evidence, priorities


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_blank_actor_is_refused_and_nothing_changes(
    sqlite_store: Store, tmp_path: Path, name: str
) -> None:
    with sqlite_store.session() as session:
        session.add(Subject(id="S1", country="NZ", reason="synthetic"))
    before = len(entries(sqlite_store))
    with pytest.raises(ValueError, match="name of who"):
        CHANGES[name](sqlite_store, tmp_path, "  ")
    assert _counts(sqlite_store) == (0, 0)
    # Only the setup's own entries (a user added for set_password), none for the change.
    assert all(e.actor == "test:setup" for e in entries(sqlite_store)[before:])
    if name == "analyse_operation":
        return  # its audited run is in the enumerating tests (it needs a whole operation)
    CHANGES[name](sqlite_store, tmp_path, "cli:alice")
    assert entries(sqlite_store)[-1].actor == "cli:alice"
