"""Two installations that share nothing but files: the sender refers, the receiver imports and
works its case to an arrest, the outcome file comes back signed and the sender's figures show it.

The sender runs on SQLite, the receiver on PostgreSQL, each with its own key pair; everything
crosses as files written by one and read by the other.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from package_samples import key_pair
from sqlalchemy import func, select

from kaitiaki.hashsets import import_hash_set
from kaitiaki.operation.analyse import analyse_operation
from kaitiaki.priority import override, prioritise
from kaitiaki.receive.cases import case_detail, list_cases
from kaitiaki.receive.importing import import_package
from kaitiaki.receive.package_reader import PackageError, UnknownSenderError
from kaitiaki.receive.report import export_outcomes
from kaitiaki.receive.work import add_step, assign_case
from kaitiaki.refer.lifecycle import apply_status
from kaitiaki.refer.outcome_import import import_outcome_file
from kaitiaki.refer.package import build_referrals
from kaitiaki.refer.revise import NothingNewError, revise_referral
from kaitiaki.refer.service import figures
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import AuditEvent, CaseStep, HashSet, ReceivedCase, Referral
from kaitiaki.users.accounts import add_user
from kaitiaki.users.roles import Role
from kaitiaki.users.scope import Jurisdiction, Scope
from nothing_skips import postgres_schema

OPERATOR = Scope.operator()


@pytest.fixture
def receiver() -> Iterator[Store]:
    for url in postgres_schema():
        opened = open_store(url)
        try:
            yield opened
        finally:
            opened.close()


def _rows(store: Store) -> dict[str, int]:
    with store.session() as s:
        return {
            "cases": s.scalar(select(func.count()).select_from(ReceivedCase)) or 0,
            "steps": s.scalar(select(func.count()).select_from(CaseStep)) or 0,
            "hash_sets": s.scalar(select(func.count()).select_from(HashSet)) or 0,
            "audit": s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        }


def test_two_installations_round_trip(tmp_path: Path, receiver: Store) -> None:
    sender = open_store(f"sqlite:///{tmp_path / 'sender.db'}")
    sender_key, sender_pub = key_pair(tmp_path, "lead-unit")
    receiver_key, receiver_pub = key_pair(tmp_path, "hsi")
    forger_key, _ = key_pair(tmp_path, "forger")

    # The sender: a simulated operation, analysed, prioritised and referred.
    sim = tmp_path / "sim"
    simulate_operation(sim, accounts=300, flagged_accounts=30, events=5000, seed=3)
    import_hash_set(sender, sim / "hashset.json", "operation-set", "vics", actor="cli:lead")
    analyse_operation(
        sender,
        [sim / "records.csv"],
        sim / "accounts.csv",
        sim / "catalog.csv",
        tmp_path / "analysis",
        actor="cli:lead",
    )
    workspace = tmp_path / "analysis" / "workspace"
    prioritise(sender, actor="cli:lead", workspace=workspace)
    batch = build_referrals(
        sender, workspace, tmp_path / "out", key_path=sender_key, built_by="cli:lead"
    )
    us = next(p for p in batch if p.country == "US")
    with sender.session() as s:
        apply_status(s, us.referral_id, "sent", actor="cli:lead")

    # The receiver refuses it from an unknown key, then trusts the lead unit and imports.
    before = _rows(receiver)
    with pytest.raises(UnknownSenderError, match="not in the trust store"):
        import_package(receiver, us.folder, actor="web:officer", scope=OPERATOR)
    assert _rows(receiver) == before
    add_trusted_key(receiver, "NZ lead unit", sender_pub, actor="cli:admin")
    before = _rows(receiver)

    # A forger re-signs the genuine package with its own key: refused as an unknown sender.
    forged = tmp_path / "forged"
    shutil.copytree(us.folder, forged)
    from kaitiaki.refer.signing import load_private, write_signed_manifest

    manifest = json.loads((forged / "manifest.json").read_text())
    write_signed_manifest(
        forged,
        load_private(forger_key),
        {k: manifest[k] for k in ("package_id", "package_version", "created", "schema_version")},
    )
    with pytest.raises(UnknownSenderError):
        import_package(receiver, forged, actor="web:officer", scope=OPERATOR)
    # Tampered: one event's IP changed after signing.
    tampered = tmp_path / "tampered"
    shutil.copytree(us.folder, tampered)
    text = (tampered / "package.json").read_text()
    (tampered / "package.json").write_text(text.replace('"ip": "', '"ip": "9', 1))
    with pytest.raises(PackageError, match=r"altered: package\.json"):
        import_package(receiver, tampered, actor="web:officer", scope=OPERATOR)
    assert _rows(receiver) == before

    # A liaison of the US agency imports it, as a ZIP.
    us_agency = Jurisdiction("US", us.agency)
    liaison = Scope(Role.LIAISON, frozenset({us_agency}))
    archive = shutil.make_archive(
        str(tmp_path / us.referral_id), "zip", us.folder.parent, us.referral_id
    )
    result = import_package(receiver, Path(archive), actor="web:officer", scope=liaison)
    assert result.outcome == "created" and result.sender == "NZ lead unit"
    sent = json.loads((us.folder / "package.json").read_text())
    distinct = {f["sha256"] for d in sent["subjects"] for f in d["flagged_files"]}
    assert result.subjects == len(us.subjects) and result.flagged_files == len(distinct)
    again = import_package(receiver, us.folder, actor="web:officer", scope=liaison)
    assert again.outcome == "unchanged" and again.case_id == result.case_id
    # Another country's liaison neither imports nor sees it.
    other = Scope(Role.LIAISON, frozenset({Jurisdiction("AU", "Australian Federal Police")}))
    assert list_cases(receiver, scope=other) == []

    case = case_detail(receiver, us.referral_id, scope=liaison)
    assert case.priority_tier is not None and case.hash_set == f"received {us.referral_id}"
    docs = {d["subject_id"]: d for d in case.subject_docs}
    assert set(docs) == set(us.subjects)
    event = next(e for d in docs.values() for e in d["ip_capture_events"])
    assert event["utc"].endswith("Z") and event["local_time"]

    # The receiver works the case to an arrest.
    add_user(
        receiver, "investigator.h", Role.INVESTIGATOR, "correct horse battery 9", actor="cli:admin"
    )
    assign_case(receiver, case.id, "investigator.h", actor="web:officer", scope=liaison)
    subject = us.subjects[0]
    for kind, count, on in (
        ("legal_request", None, date(2026, 11, 20)),
        ("subscriber_identified", None, date(2026, 11, 24)),
        ("search_warrant", None, date(2026, 11, 28)),
        ("devices_seized", 3, date(2026, 11, 29)),
        ("arrest", 1, date(2026, 11, 29)),
        ("children_safeguarded", 2, date(2026, 11, 30)),
    ):
        add_step(
            receiver,
            case.id,
            kind,
            actor="web:officer",
            scope=liaison,
            on=on,
            count=count,
            subject_id=subject,
            detail="ISP: Example Telecom, subscriber J. Doe",
        )
    add_step(
        receiver,
        case.id,
        "note",
        actor="web:officer",
        scope=liaison,
        detail="subscriber's name stays here",
    )
    assert case_detail(receiver, case.id, scope=liaison).status == "arrest"
    outcome_file = tmp_path / "outcomes.json"
    exported = export_outcomes(
        receiver, case.id, outcome_file, key_path=receiver_key, actor="web:officer", scope=liaison
    )
    assert exported.totals == {
        "arrested": 1,
        "children_safeguarded": 2,
        "devices_seized": 3,
        "no_further_action": 0,
    }
    # Nothing personal leaves: details and notes stay with the receiver.
    assert b"J. Doe" not in outcome_file.read_bytes() and b"J. Doe" not in __import__(
        "base64"
    ).b64decode(json.loads(outcome_file.read_text())["payload"])

    # The sender verifies it against the partner's pinned key and its figures show it.
    add_trusted_key(
        sender, "HSI/FBI", receiver_pub, actor="cli:admin", jurisdictions=[f"US:{us.agency}"]
    )
    applied = import_outcome_file(sender, outcome_file, actor="cli:lead", scope=OPERATOR)
    assert (
        applied.sender == "HSI/FBI" and applied.status == "arrest" and not applied.already_imported
    )
    with sender.session() as s:
        assert s.get(Referral, us.referral_id).status == "arrest"
    stats = figures(sender, scope=OPERATOR)
    assert stats.arrests == 1 and stats.children_safeguarded == 2
    assert stats.by_country["US"].arrests == 1
    assert import_outcome_file(
        sender, outcome_file, actor="cli:lead", scope=OPERATOR
    ).already_imported
    assert figures(sender, scope=OPERATOR).arrests == 1

    # A revision that would say what version 1 said is not built.
    revise = functools.partial(
        revise_referral,
        sender,
        workspace,
        tmp_path / "out",
        us.referral_id,
        key_path=sender_key,
        built_by="cli:lead",
    )
    with pytest.raises(NothingNewError, match="nothing new since version 1"):
        revise()
    assert not (tmp_path / "out" / f"{us.referral_id}-v2").exists()
    # The sender learns more (a person raises a subject's priority) and sends version 2:
    # merged, with its differences listed.
    override(sender, us.subjects[0], "very high", "a second victim identified", by="cli:lead")
    revised = revise()
    with sender.session() as s:
        assert s.get(Referral, us.referral_id).package_version == 2
    merged = import_package(receiver, revised.folder, actor="web:officer", scope=liaison)
    assert merged.outcome == "merged" and merged.case_id == case.id and merged.package_version == 2
    assert [v.package_version for v in case_detail(receiver, case.id, scope=liaison).versions] == [
        1,
        2,
    ]
    with pytest.raises(Exception, match="not newer"):
        # Version 1 again after version 2: an older package never replaces a newer one.
        shutil.copytree(us.folder, tmp_path / "v1-again")
        (tmp_path / "v1-again" / "report.html").write_text("changed")
        from kaitiaki.refer.signing import write_signed_manifest as sign

        sign(tmp_path / "v1-again", load_private(sender_key), {"package_id": us.referral_id})
        import_package(receiver, tmp_path / "v1-again", actor="web:officer", scope=liaison)
    sender.close()
