"""The referral lifecycle through the application layer: the allowed path, refused skips, the
history rows, and who may move a referral at all (only the sending side sends)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from kaitiaki.refer.lifecycle import PATH
from kaitiaki.refer.service import (
    ReferralConflictError,
    ReferralForbiddenError,
    ReferralNotFoundError,
    change_status,
    history,
    next_statuses,
)
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Referral
from kaitiaki.users import Role, Scope, jurisdiction

OPERATOR = Scope.operator()
NCB = "INTERPOL National Central Bureau"


def _referral(store: Store, referral_id: str = "REF-1", **fields: str) -> None:
    values = {"agency": "Synthetic Police", "country": "NZ", **fields}
    with store.session() as session:
        session.add(Referral(id=referral_id, **values))


def _audit(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as session:
        return [
            (e.actor, e.action, e.target_id)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def test_the_whole_path_is_recorded(store: Store) -> None:
    _referral(store)
    for day, status in enumerate(PATH[1:], 1):
        at = datetime(2021, 3, day, tzinfo=UTC)
        change_status(
            store, "REF-1", status, actor="cli:lia", scope=OPERATOR, note=f"step {day}", at=at
        )
    rows = history(store, "REF-1", scope=OPERATOR)
    assert [r.status for r in rows] == list(PATH[1:])
    assert rows[0].by == "cli:lia" and rows[0].note == "step 1"
    assert rows[-1].at.day == len(PATH) - 1
    with store.session() as session:
        referral = session.get(Referral, "REF-1")
        assert referral is not None and referral.status == "convicted"
    assert _audit(store) == [("cli:lia", "referral.status", "REF-1")] * (len(PATH) - 1)


def test_a_skip_is_refused_naming_the_next_statuses(store: Store) -> None:
    _referral(store)

    def change(referral_id: str, status: str, note: str = "") -> None:
        change_status(store, referral_id, status, actor="cli:x", scope=OPERATOR, note=note)

    with pytest.raises(ReferralConflictError, match=r"from 'draft' to 'arrest'.*'sent'"):
        change("REF-1", "arrest")
    change("REF-1", "sent")
    with pytest.raises(ReferralConflictError, match="'acknowledged' or 'no further action'"):
        change("REF-1", "warrant")
    with pytest.raises(ReferralConflictError, match="already 'sent'"):
        change("REF-1", "sent")
    change("REF-1", "no-further-action", "insufficient evidence")
    with pytest.raises(ReferralConflictError, match="final status"):
        change("REF-1", "acknowledged")
    with pytest.raises(ReferralConflictError, match="unknown status 'lost'"):
        change("REF-1", "lost")
    with pytest.raises(ReferralNotFoundError, match="no referral 'REF-9'"):
        change("REF-9", "sent")
    # Refused changes leave no trace in the history or the audit log.
    assert [r.status for r in history(store, "REF-1", scope=OPERATOR)] == [
        "sent",
        "no further action",
    ]
    assert len(_audit(store)) == 2


def test_a_liaison_cannot_send_and_moves_only_its_own(store: Store) -> None:
    _referral(store, "R-TO", agency=NCB, country="TO")
    _referral(store, "R-FJ", agency=NCB, country="FJ", status="sent")
    tonga = Scope(Role.LIAISON, frozenset({jurisdiction("TO", NCB)}))
    with pytest.raises(ReferralForbiddenError, match="only the sending side sends"):
        change_status(store, "R-TO", "sent", actor="web:tonga", scope=tonga)
    assert next_statuses("draft", tonga) == []
    assert next_statuses("sent", tonga) == ["acknowledged", "no further action"]
    assert next_statuses("draft", Scope(Role.INVESTIGATOR)) == ["sent"]
    assert next_statuses("draft", Scope(Role.AUDITOR)) == []
    # Another NCB country's referral does not exist for this liaison, whatever the request.
    for status in ("acknowledged", "no further action", "bogus"):
        with pytest.raises(ReferralNotFoundError, match="no referral 'R-FJ'"):
            change_status(store, "R-FJ", status, actor="web:tonga", scope=tonga)
    with pytest.raises(ReferralNotFoundError):
        history(store, "R-FJ", scope=tonga)
    with pytest.raises(ReferralForbiddenError):
        change_status(store, "R-TO", "sent", actor="web:aud", scope=Scope(Role.AUDITOR))
    change_status(store, "R-TO", "sent", actor="web:ian", scope=Scope(Role.INVESTIGATOR))
    change_status(store, "R-TO", "acknowledged", actor="web:tonga", scope=tonga)
    with store.session() as session:
        statuses = dict(session.execute(select(Referral.id, Referral.status)).all())
    assert statuses == {"R-TO": "acknowledged", "R-FJ": "sent"}
    assert _audit(store) == [
        ("web:ian", "referral.status", "R-TO"),
        ("web:tonga", "referral.status", "R-TO"),
    ]
