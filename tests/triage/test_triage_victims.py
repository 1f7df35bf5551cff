"""Series, victims, offenders, links, VICS sync and export, statistics (SQLite + PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kaitiaki.hashsets import import_hash_set, iter_entries
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, File, Series, SeriesLink
from kaitiaki.triage.links import link_entries, link_files
from kaitiaki.triage.series_vics import export_series_vics, sync_series_from_hash_sets
from kaitiaki.triage.victims import (
    VictimIdError,
    add_offender,
    add_series,
    add_victim,
    get_series,
    list_series,
    statistics,
    update_offender,
    update_series,
    update_victim,
)

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def _vics(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"@odata.context": CONTEXT, "value": records}))
    return path


def _record(i: int, series: str | None, victim: str | None) -> dict[str, object]:
    out: dict[str, object] = {"MediaID": i, "MD5": f"{i:032X}", "Category": 1}
    if series is not None:
        out["Series"] = series
    if victim is not None:
        out["VictimIdentified"] = victim
    return out


def _actions(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_series_follow_their_victims_and_every_change_is_audited(store: Store) -> None:
    add_series(store, "S-1", description="garden", by="vid")
    with pytest.raises(VictimIdError, match="already exists"):
        add_series(store, "S-1", by="cli:tester")
    with pytest.raises(VictimIdError, match="pseudonymous"):
        add_victim(store, "Jane Doe", series="S-1", by="cli:tester")
    with pytest.raises(VictimIdError, match="ISO 3166"):
        add_victim(store, "V-1", series="S-1", country="NZL", by="cli:tester")
    with pytest.raises(VictimIdError, match="no series"):
        add_victim(store, "V-1", series="S-404", by="cli:tester")
    add_victim(store, "V-1", series="S-1", age_band="4-7", identified=True, country="nz", by="vid")
    assert get_series(store, "S-1").identified  # its only victim is identified
    add_victim(store, "V-2", series="S-1", agency="NCA", by="vid")
    view = get_series(store, "S-1")
    assert not view.identified and (view.victims, view.victims_identified) == (2, 1)
    update_victim(store, "V-2", identified=True, by="vid", reason="safeguarded")
    assert get_series(store, "S-1").identified
    add_offender(store, "O-1", series="S-1", by="vid")
    update_offender(store, "O-1", identified=True, by="vid")
    update_series(store, "S-1", description="garden, summer", by="vid")
    view = get_series(store, "S-1")
    assert (view.offenders, view.offenders_identified) == (1, 1)
    assert view.description == "garden, summer"
    stats = statistics(store)
    assert (stats.series, stats.series_identified) == (1, 1)
    assert (stats.victims, stats.victims_identified) == (2, 2)
    assert stats.victims_by_country == {"NZ": 1, "unknown": 1}
    with store.session() as session:
        reasons = set(session.scalars(select(AuditEvent.reason)))
    assert {"safeguarded", "follows its victim records"} <= reasons
    assert _actions(store) == [
        "series.created",
        "victim.created",
        "series.updated",
        "victim.created",
        "series.updated",
        "victim.updated",
        "series.updated",
        "offender.created",
        "offender.updated",
        "series.updated",
    ]


def test_sync_creates_series_links_entries_and_keeps_records(store: Store, tmp_path: Path) -> None:
    records = [
        _record(1, "Alpha", "true"),
        _record(2, "Alpha", "true"),
        _record(3, "Beta", "false"),
        _record(4, "Gamma", "true"),
        _record(5, "Gamma", "false"),  # sources disagree: not identified
        _record(6, None, None),
    ]
    import_hash_set(store, _vics(tmp_path / "a.json", records), "set-a", actor="cli:tester")
    first = sync_series_from_hash_sets(store, "set-a", by="sync")
    assert first.created == ["Alpha", "Beta", "Gamma"] and first.linked == 5
    assert {s.name: s.identified for s in list_series(store)} == {
        "Alpha": True,
        "Beta": False,
        "Gamma": False,
    }
    again = sync_series_from_hash_sets(store, "set-a", by="sync")
    assert again.created == [] and again.linked == 0
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(SeriesLink)) == 5
    # A specialist's record is kept; the set's word against it is reported, not applied.
    update_series(store, "Beta", identified=True, by="vid")
    third = sync_series_from_hash_sets(store, by="sync")
    assert [(d.series, d.record_identified, d.hash_set_says) for d in third.disagreements] == [
        ("Beta", True, "not identified")
    ]
    assert get_series(store, "Beta").identified
    with pytest.raises(LookupError):
        sync_series_from_hash_sets(store, "no-such-set", by="cli:tester")


def test_links_by_media_id_md5_and_file_are_not_doubled(store: Store, tmp_path: Path) -> None:
    import_hash_set(
        store,
        _vics(tmp_path / "b.json", [_record(i, None, None) for i in range(5)]),
        "b",
        actor="cli:tester",
    )
    add_series(store, "Delta", by="cli:tester")
    assert link_entries(store, "Delta", hash_set="b", media_ids=["1", "2"], by="cli:tester") == 2
    assert link_entries(store, "Delta", md5s=[f"{2:032x}", f"{3:032X}"], by="cli:tester") == 1
    with pytest.raises(VictimIdError, match="no hash-set entry"):
        link_entries(store, "Delta", hash_set="b", media_ids=["99"], by="cli:tester")
    with pytest.raises(VictimIdError, match="name the hash set"):
        link_entries(store, "Delta", media_ids=["1"], by="cli:tester")
    with store.session() as session:
        session.add(
            File(
                sha256="a" * 64,
                md5="b" * 32,
                sha1="c" * 40,
                size=1,
                kind="image",
                mime="image/jpeg",
            )
        )
    assert link_files(store, "Delta", ["A" * 64], by="cli:tester") == 1
    assert link_files(store, "Delta", ["a" * 64], by="cli:tester") == 0
    with pytest.raises(VictimIdError, match="no file"):
        link_files(store, "Delta", ["d" * 64], by="cli:tester")
    view = get_series(store, "Delta")
    assert (view.linked_entries, view.linked_files) == (3, 1)


def test_vics_export_carries_the_current_status_and_imports_back(
    store: Store, tmp_path: Path
) -> None:
    import_hash_set(
        store,
        _vics(tmp_path / "c.json", [_record(1, "Epsilon", "false"), _record(2, "Zeta", None)]),
        "c",
        actor="cli:tester",
    )
    sync_series_from_hash_sets(store, "c", by="cli:tester")
    update_series(store, "Epsilon", identified=True, reason="child safeguarded", by="cli:tester")
    add_offender(store, "O-9", series="Epsilon", identified=True, by="cli:tester")
    out = tmp_path / "vid.json"
    assert export_series_vics(store, out) == 2
    import_hash_set(store, out, "back", actor="cli:tester")
    entries = {e.md5: e for e in iter_entries(store, "back")}
    epsilon, zeta = entries[f"{1:032x}"], entries[f"{2:032x}"]
    assert (epsilon.series, epsilon.victim_identified, epsilon.offender_identified) == (
        "Epsilon",
        True,
        True,
    )
    assert (zeta.series, zeta.victim_identified, zeta.offender_identified) == ("Zeta", False, None)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Series)) == 2
