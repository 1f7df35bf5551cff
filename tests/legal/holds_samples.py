"""A small store for the legal-hold tests: evidence, files, accounts, subjects and a report.

All synthetic: hashes are made-up hex strings, names are invented. The relations, which the
coverage rules follow, are spelt out in ``RELATIONS`` so a test can check them by hand::

    evidence laptop: files A, B          evidence phone: files B, C
    subject S-1: accounts acct-1, acct-2 (linked)     subject S-2: account acct-3
    account acct-4: no subject
    report R (finished, about S-2): file C (by its phone instance), file A (by SHA-256 only)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from kaitiaki.store import Store
from kaitiaki.store.models import (
    Account,
    AccountLink,
    AuditEvent,
    Base,
    CyberTipReport,
    CyberTipReportFile,
    Enrichment,
    Evidence,
    File,
    FileInstance,
    LegalHold,
    Priority,
    Scan,
    Subject,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SHA = {"A": "a" * 64, "B": "b" * 64, "C": "c" * 64}


@dataclass(frozen=True)
class World:
    laptop: int
    phone: int
    report: int

    def targets(self) -> list[tuple[str, str]]:
        return [
            *(("account", f"acct-{i}") for i in range(1, 5)),
            ("subject", "S-1"),
            ("subject", "S-2"),
            ("evidence", str(self.laptop)),
            ("evidence", str(self.phone)),
            ("report", str(self.report)),
        ]

    def covers(self, hold: tuple[str, str]) -> set[tuple[str, str]]:
        """The reference model: what a hold on ``hold`` covers, written out by hand."""
        kind, target = hold
        subject_of = {"acct-1": "S-1", "acct-2": "S-1", "acct-3": "S-2"}
        accounts_of = {"S-1": {"acct-1", "acct-2"}, "S-2": {"acct-3"}}
        found = {hold}
        if kind == "account" and target in subject_of:
            found.add(("subject", subject_of[target]))
        if kind == "subject":
            found |= {("account", a) for a in accounts_of.get(target, set())}
        if kind == "report":
            found |= {("subject", "S-2"), ("account", "acct-3")}
            # File C by its phone instance; file A by SHA-256, which the laptop holds.
            found |= {("evidence", str(self.phone)), ("evidence", str(self.laptop))}
        return found


def _file(key: str) -> File:
    return File(
        sha256=SHA[key], md5=key * 32, sha1=key * 40, size=10, kind="image", mime="image/jpeg"
    )


def small_world(store: Store, *, old: datetime = NOW - timedelta(days=1000)) -> World:
    """The store described above, every record dated ``old``."""
    with store.session() as s:
        s.add_all(_file(k) for k in SHA)
        laptop = Evidence(name="laptop", created_at=old)
        phone = Evidence(name="phone", created_at=old)
        s.add_all([laptop, phone])
        s.flush()
        for ev, keys in ((laptop, "AB"), (phone, "BC")):
            s.add(Scan(evidence_id=ev.id, roots=["/x"], hash_sets=[], tool_version="t"))
            for k in keys:
                s.add(
                    FileInstance(
                        evidence_id=ev.id, path=f"/x/{k}.jpg", source=f"/x/{k}.jpg", sha256=SHA[k]
                    )
                )
        s.add_all([Subject(id="S-1", reason="test"), Subject(id="S-2", reason="test")])
        s.flush()
        s.add_all(
            [
                Account(account_id="acct-1", subject_id="S-1", last_seen=old),
                Account(account_id="acct-2", subject_id="S-1", last_seen=old),
                Account(account_id="acct-3", subject_id="S-2", last_seen=old),
                Account(account_id="acct-4", last_seen=old),
                AccountLink(account_a="acct-1", account_b="acct-2", reason="same email"),
                Priority(subject_id="S-1", score=1.0, tier="high", factors=[]),
                Enrichment(subject_id="S-1", indicator="travel", value="yes"),
            ]
        )
        s.flush()
        phone_c = s.scalar(
            select(FileInstance.id).where(
                FileInstance.evidence_id == phone.id, FileInstance.sha256 == SHA["C"]
            )
        )
        report = CyberTipReport(
            subject_id="S-2",
            state="finished",
            document="<report/>",
            document_sha256="d" * 64,
            created_by="test",
            created_at=old,
            finished_at=old,
            ncmec_report_id=4242,
        )
        s.add(report)
        s.flush()
        s.add_all(
            [
                CyberTipReportFile(
                    report_id=report.id,
                    object_id="o-c",
                    sha256=SHA["C"],
                    instance_id=phone_c,
                    details="<fileDetails/>",
                ),
                CyberTipReportFile(
                    report_id=report.id, object_id="o-a", sha256=SHA["A"], details="<d/>"
                ),
            ]
        )
        return World(laptop.id, phone.id, report.id)


def add_hold(
    store: Store,
    target_type: str,
    target_id: str,
    *,
    basis: str = "court_order",
    expires_at: datetime | None = None,
    released: bool = False,
) -> int:
    """A hold row as it would be stored, at any date (``place_hold`` refuses past ones)."""
    with store.session() as s:
        hold = LegalHold(
            target_type=target_type,
            target_id=target_id,
            basis=basis,
            basis_text="a test hold",
            created_by="test",
            expires_at=expires_at,
            released_at=datetime.now(UTC) if released else None,
        )
        s.add(hold)
        s.flush()
        return hold.id


def table_counts(store: Store) -> dict[str, int]:
    """Rows in every table: a dry run must leave all of them as they were, bar the audit log."""
    with store.session() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


def actions(store: Store, action: str) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [
            {"actor": e.actor, "target": (e.target_type, e.target_id), "details": e.details}
            for e in rows
        ]
