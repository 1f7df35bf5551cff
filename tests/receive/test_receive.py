"""Receiving a referral package: what is refused (and leaves the store as it was), what a
newer version changes, deconfliction at import, and the steps of the local investigation."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from package_samples import US_AGENCY, document, key_pair, make_package, subject
from sqlalchemy import func, select

from kaitiaki.audit import verify_log
from kaitiaki.receive.cases import (
    CaseConflictError,
    CaseForbiddenError,
    CaseInvalidError,
    CaseNotFoundError,
    case_detail,
    hits_for_subject,
    list_cases,
)
from kaitiaki.receive.importing import import_package
from kaitiaki.receive.package_reader import PackageError, UnknownSenderError
from kaitiaki.receive.work import add_step
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AuditEvent, CaseHit, HashSetEntry, ReceivedCase, Subject
from kaitiaki.users.roles import Role
from kaitiaki.users.scope import Jurisdiction, Scope

OPERATOR = Scope.operator()
US = Scope(Role.LIAISON, frozenset({Jurisdiction("US", US_AGENCY)}))
AU = Scope(Role.LIAISON, frozenset({Jurisdiction("AU", "Australian Federal Police")}))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return key_pair(tmp_path, "lead")


def _trusted(store: Store, keys: tuple[Path, Path]) -> Store:
    add_trusted_key(store, "lead unit", keys[1], actor="test:setup")
    return store


def _state(store: Store) -> tuple[int, int, int]:
    with store.session() as s:
        return (
            s.scalar(select(func.count()).select_from(ReceivedCase)) or 0,
            s.scalar(select(func.count()).select_from(HashSetEntry)) or 0,
            s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def _refused(store: Store, path: Path, match: str, scope: Scope = OPERATOR) -> None:
    before = _state(store)
    with pytest.raises((PackageError, CaseForbiddenError, CaseInvalidError), match=match):
        import_package(store, path, actor="test:officer", scope=scope)
    assert _state(store) == before


def test_bad_packages_are_refused_by_name_and_change_nothing(
    store: Store, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    _trusted(store, keys)
    missing = make_package(tmp_path / "missing", keys[0])
    (missing / "events.csv").unlink()
    _refused(store, missing, r"missing: events\.csv")

    outside = make_package(tmp_path / "outside", keys[0])
    manifest = json.loads((outside / "manifest.json").read_text())
    manifest["files"]["../../etc/passwd"] = "0" * 64
    (outside / "manifest.json").write_text(json.dumps(manifest))
    _refused(store, outside, "outside the package")

    future = document(schema_version="2.0")
    _refused(
        store, make_package(tmp_path / "future", keys[0], future), r"schema version 2\.0 is newer"
    )

    not_schema = document()
    del not_schema["subjects"][0]["accounts"]
    _refused(store, make_package(tmp_path / "bad", keys[0], not_schema), "accounts")

    long_id = document(subjects=[subject("S-" + "1" * 60)])
    _refused(store, make_package(tmp_path / "long", keys[0], long_id), "longer than 40")

    bad_hash = document()
    bad_hash["subjects"][0]["flagged_files"][0]["md5"] = "not-a-hash"
    _refused(store, make_package(tmp_path / "hash", keys[0], bad_hash), "flagged_files/0/md5")

    # A liaison imports only what is addressed to its own jurisdictions.
    _refused(store, make_package(tmp_path / "us", keys[0]), "not to one of your", scope=AU)


def test_hostile_zips_are_refused(
    sqlite_store: Store, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    _trusted(sqlite_store, keys)
    folder = make_package(tmp_path / "pkg", keys[0])
    traversal = tmp_path / "traversal.zip"
    with zipfile.ZipFile(traversal, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
        zf.writestr("../escaped.txt", "x")
    _refused(sqlite_store, traversal, "outside the package")
    assert not (tmp_path / "escaped.txt").exists()

    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
        info = zipfile.ZipInfo("events2.csv")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    _refused(sqlite_store, link, "a link")

    not_zip = tmp_path / "noise.zip"
    not_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    _refused(sqlite_store, not_zip, "neither a package folder nor a ZIP|not a ZIP")

    # A genuine package zipped inside one top folder is read.
    good = Path(shutil.make_archive(str(tmp_path / "good"), "zip", tmp_path, "pkg"))
    assert import_package(sqlite_store, good, actor="t", scope=OPERATOR).outcome == "created"


def test_unknown_sender_only_with_a_reason(
    sqlite_store: Store, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    folder = make_package(tmp_path / "pkg", keys[0])
    with pytest.raises(UnknownSenderError, match="--accept-unknown-sender"):
        import_package(sqlite_store, folder, actor="t", scope=OPERATOR)
    with pytest.raises(CaseInvalidError, match="reason"):
        import_package(sqlite_store, folder, actor="t", scope=OPERATOR, accept_unknown_reason=" ")
    done = import_package(
        sqlite_store,
        folder,
        actor="cli:officer",
        scope=OPERATOR,
        accept_unknown_reason="key confirmed by phone with the AFP desk, trust entry pending",
    )
    case = case_detail(sqlite_store, done.case_id, scope=OPERATOR)
    assert case.unknown_sender_reason and case.sender.startswith("unknown sender ")
    with sqlite_store.session() as s:
        entry = s.scalars(select(AuditEvent).where(AuditEvent.action == "received.created")).one()
        assert entry.actor == "cli:officer" and "phone" in entry.reason
        assert entry.details["origin_proven"] is False
    assert verify_log(sqlite_store).ok


def test_versions_merge_and_older_ones_are_refused(
    store: Store, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    _trusted(store, keys)
    v1 = document(subjects=[subject("S-00000000000000a1", email="a@example.org")])
    first = import_package(store, make_package(tmp_path / "v1", keys[0], v1), actor="t", scope=US)
    one_zero = document("KAI-US-20261203-2", schema_version="1.0")
    del one_zero["package_version"], one_zero["supersedes"]
    assert (
        import_package(
            store, make_package(tmp_path / "old", keys[0], one_zero), actor="t", scope=US
        ).package_version
        == 1
    )
    v2 = document(
        version=2,
        subjects=[
            subject("S-00000000000000a1", email="b@example.org", tier="very_high"),
            subject("S-00000000000000b2"),
        ],
    )
    v2["schema_version"] = "1.7"  # a later minor: extra fields are ignored
    v2["a_field_from_1_7"] = {"anything": True}
    merged = import_package(store, make_package(tmp_path / "v2", keys[0], v2), actor="t", scope=US)
    assert merged.outcome == "merged" and merged.case_id == first.case_id
    changes = {(d["subject_id"], d["change"]) for d in merged.differences}
    assert ("S-00000000000000b2", "subject added") in changes
    assert ("S-00000000000000a1", "identifiers added") in changes
    assert ("S-00000000000000a1", "identifiers removed") in changes
    assert ("S-00000000000000a1", "priority") in changes
    case = case_detail(store, first.case_id, scope=US)
    assert case.package_version == 2 and case.priority_tier == "very_high" and case.subjects == 2
    assert case.versions[-1].differences == merged.differences
    before = _state(store)
    with pytest.raises(CaseConflictError, match="not newer"):
        import_package(
            store,
            make_package(
                tmp_path / "v1b", keys[0], document(subjects=[subject("S-00000000000000c3")])
            ),
            actor="t",
            scope=US,
        )
    assert _state(store) == before


def test_deconfliction_hits_show_on_both_sides(
    store: Store, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    _trusted(store, keys)
    with store.session() as s:
        s.add(Subject(id="S-ours", country="US"))
        s.flush()
        s.add(Account(account_id="acct-shared", platform="provider", subject_id="S-ours"))
    first = document(
        subjects=[
            subject("S-00000000000000a1", account="acct-shared", email="Same.Person@Example.org")
        ]
    )
    import_package(store, make_package(tmp_path / "a", keys[0], first), actor="t", scope=US)
    second = document(
        "KAI-US-20261203-9",
        subjects=[subject("S-00000000000000d4", email="same.person@example.org ")],
    )
    done = import_package(store, make_package(tmp_path / "b", keys[0], second), actor="t", scope=US)
    assert {(h.other_type, h.kind) for h in done.hits} == {("received", "email")}
    a = case_detail(store, "KAI-US-20261203-1", scope=US)
    assert {(h.other_type, h.other_id, h.kind) for h in a.hits_found} == {
        ("subject", "S-ours", "account"),
        ("received", f"{done.case_id}:S-00000000000000d4", "email"),
    }
    assert [c.reference for c, _ in hits_for_subject(store, "S-ours", scope=OPERATOR)] == [
        "KAI-US-20261203-1"
    ]
    # Another jurisdiction's liaison learns nothing from our subject's side either.
    assert hits_for_subject(store, "S-ours", scope=AU) == []
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(CaseHit)) == 3


def test_steps_follow_the_rules(
    sqlite_store: Store, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    _trusted(sqlite_store, keys)
    case = import_package(
        sqlite_store, make_package(tmp_path / "p", keys[0]), actor="t", scope=US
    ).case_id
    with pytest.raises(CaseInvalidError, match="needs a count"):
        add_step(sqlite_store, case, "arrest", actor="t", scope=US)
    with pytest.raises(CaseInvalidError, match="needs a reason"):
        add_step(sqlite_store, case, "nfa", actor="t", scope=US)
    with pytest.raises(CaseInvalidError, match="future"):
        add_step(
            sqlite_store,
            case,
            "legal_request",
            actor="t",
            scope=US,
            on=date.today() + timedelta(days=2),
        )
    with pytest.raises(CaseInvalidError, match="not in case"):
        add_step(sqlite_store, case, "legal_request", actor="t", scope=US, subject_id="S-nobody")
    with pytest.raises(CaseNotFoundError):
        add_step(sqlite_store, case, "legal_request", actor="t", scope=AU)
    auditor = Scope(Role.AUDITOR)
    with pytest.raises(CaseForbiddenError):
        add_step(sqlite_store, case, "legal_request", actor="t", scope=auditor)
    add_step(sqlite_store, case, "legal_request", actor="t", scope=US)
    add_step(
        sqlite_store,
        case,
        "no further action",
        actor="t",
        scope=US,
        reason="subscriber is a café's open Wi-Fi",
    )
    assert case_detail(sqlite_store, case, scope=US).status == "no further action"
    with pytest.raises(CaseConflictError, match="only notes"):
        add_step(sqlite_store, case, "arrest", actor="t", scope=US, count=1)
    add_step(sqlite_store, case, "note", actor="t", scope=US, detail="closed after review")
    assert [c.status for c in list_cases(sqlite_store, scope=US)] == ["no further action"]
    assert list_cases(sqlite_store, scope=AU) == []


def test_a_seized_device_is_matched_against_the_senders_flagged_hashes(
    sqlite_store: Store, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    import hashlib

    import numpy as np
    from PIL import Image

    from kaitiaki.scan.runner import run_scan

    device = tmp_path / "seized-phone" / "DCIM"
    device.mkdir(parents=True)
    # A generated benign picture stands for a file the sender flagged; another one it did not.
    rng = np.random.default_rng(7)
    for name in ("flagged.png", "other.png"):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(device / name)
    digest = hashlib.sha256((device / "flagged.png").read_bytes()).hexdigest()
    doc = document()
    doc["subjects"][0]["flagged_files"][0].update(sha256=digest, md5=None, category="1")
    _trusted(sqlite_store, keys)
    case = import_package(
        sqlite_store, make_package(tmp_path / "p", keys[0], doc), actor="t", scope=US
    )
    run_scan(sqlite_store, [device.parent], "seized phone", actor="test:examiner", workers=1)
    found = case_detail(sqlite_store, case.case_id, scope=US).evidence_matches
    assert [(m.evidence, m.files) for m in found] == [("seized phone", 1)]
