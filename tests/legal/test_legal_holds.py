"""Placing, releasing, extending and listing legal holds; each change audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from holds_samples import actions, add_hold, small_world

from kaitiaki.audit.log import utc
from kaitiaki.legal.coverage import HoldError
from kaitiaki.legal.holds import (
    HoldConflictError,
    HoldNotFoundError,
    HoldView,
    expiring_holds,
    extend_hold,
    list_holds,
    place_hold,
    place_report_hold,
    release_hold,
)
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport, LegalHold

BASIS = "preservation letter from the police, 2703(f)"


def _place(store: Store, target_type: str, target_id: str, kind: str, **kw: object) -> int:
    view = place_hold(
        store,
        actor="cli:alice",
        target_type=target_type,
        target_id=target_id,
        basis_kind=kind,
        basis_text=kw.pop("basis_text", BASIS),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    return view.id


def test_default_expiry_per_basis(store: Store) -> None:
    world = small_world(store)
    now = datetime.now(UTC)

    def hold_report() -> HoldView:
        return place_hold(
            store,
            actor="cli:alice",
            target_type="report",
            target_id=str(world.report),
            basis_kind="ncmec_report",
            basis_text="reported to the CyberTipline",
            reference="4242",
        )

    # A year from when the report was finished, not from now: this one's year is over.
    with pytest.raises(HoldError, match="already past"):
        hold_report()
    finished = now - timedelta(days=10)
    with store.session() as s:
        row = s.get(CyberTipReport, world.report)
        assert row is not None
        row.finished_at = finished
    report = hold_report()
    assert report.expires_at == finished + timedelta(days=365) and report.standing
    request = place_hold(
        store,
        actor="cli:alice",
        target_type="account",
        target_id="acct-1",
        basis_kind="preservation_request",
        basis_text=BASIS,
        reference="PR-7",
    )
    assert request.expires_at is not None
    assert abs(request.expires_at - (now + timedelta(days=90))) < timedelta(minutes=1)
    order = place_hold(
        store,
        actor="cli:alice",
        target_type="evidence",
        target_id="laptop",
        basis_kind="court_order",
        basis_text="order of the district court",
    )
    assert order.expires_at is None and order.standing and order.target_id == str(world.laptop)
    assert [e["target"] for e in actions(store, "hold.placed")] == [
        ("legal_hold", str(report.id)),
        ("legal_hold", str(request.id)),
        ("legal_hold", str(order.id)),
    ]
    assert actions(store, "hold.placed")[1]["details"]["reference"] == "PR-7"


def test_what_a_hold_needs(store: Store) -> None:
    world = small_world(store)
    with pytest.raises(HoldError, match="needs an expiry"):
        _place(store, "subject", "S-1", "other")
    with pytest.raises(HoldError, match="reference"):
        _place(store, "subject", "S-1", "preservation_request")
    with pytest.raises(HoldError, match="legal basis must say why"):
        _place(store, "subject", "S-1", "court_order", basis_text="   x ")
    with pytest.raises(HoldError, match="unknown basis"):
        _place(store, "subject", "S-1", "whim")
    with pytest.raises(HoldError, match="already past"):
        _place(store, "subject", "S-1", "other", expires_at=datetime.now(UTC) - timedelta(1))
    for kind, target in [
        ("account", "nobody"),
        ("subject", "S-9"),
        ("evidence", "tablet"),
        ("report", "999"),
        ("report", "R"),
    ]:
        with pytest.raises(HoldNotFoundError, match=f"no {kind}"):
            _place(store, kind, target, "court_order")
    with pytest.raises(HoldError, match="unknown target type"):
        _place(store, "referral", "x", "court_order")
    # Evidence by id as well as by name; the same standing hold twice is refused.
    _place(store, "evidence", str(world.phone), "court_order")
    with pytest.raises(HoldConflictError, match="already holds evidence"):
        _place(store, "evidence", "phone", "court_order")
    assert len(actions(store, "hold.placed")) == 1


def test_release_needs_a_reason_and_happens_once(store: Store) -> None:
    small_world(store)
    hold = _place(store, "subject", "S-1", "court_order")
    with pytest.raises(HoldError, match="reason must say why"):
        release_hold(store, hold, actor="cli:alice", reason="ok")
    with pytest.raises(HoldNotFoundError):
        release_hold(store, 999, actor="cli:alice", reason="the order was set aside on appeal")
    view = release_hold(store, hold, actor="cli:bob", reason="the order was set aside on appeal")
    assert not view.standing and view.released_by == "cli:bob"
    with pytest.raises(HoldConflictError, match="released already"):
        release_hold(store, hold, actor="cli:bob", reason="the order was set aside on appeal")
    released = actions(store, "hold.released")
    assert [(e["actor"], e["target"]) for e in released] == [("cli:bob", ("legal_hold", str(hold)))]


def test_extend_only_preservation_requests_and_only_once(store: Store) -> None:
    small_world(store)
    order = _place(store, "subject", "S-1", "court_order")
    with pytest.raises(HoldConflictError, match="only a preservation request"):
        extend_hold(store, order, actor="cli:alice")
    request = _place(store, "account", "acct-1", "preservation_request", reference="PR-1")
    before = next(v for v in list_holds(store) if v.id == request).expires_at
    assert before is not None
    extended = extend_hold(store, request, actor="cli:alice")
    assert extended.expires_at == before + timedelta(days=90)
    assert extended.extended_by == "cli:alice"
    with pytest.raises(HoldConflictError, match="extended already"):
        extend_hold(store, request, actor="cli:alice")
    lapsed = add_hold(
        store,
        "account",
        "acct-2",
        basis="preservation_request",
        expires_at=datetime.now(UTC) - timedelta(days=1),
    )
    with pytest.raises(HoldConflictError, match="no longer stands"):
        extend_hold(store, lapsed, actor="cli:alice")
    assert len(actions(store, "hold.extended")) == 1


def test_lists_and_what_is_about_to_expire(store: Store) -> None:
    small_world(store)
    now = datetime.now(UTC)
    soon = add_hold(store, "account", "acct-1", expires_at=now + timedelta(days=3))
    later = add_hold(store, "account", "acct-2", expires_at=now + timedelta(days=60))
    forever = add_hold(store, "subject", "S-1")
    gone = add_hold(store, "subject", "S-2", expires_at=now - timedelta(days=1))
    released = add_hold(store, "account", "acct-3", expires_at=now + timedelta(2), released=True)
    assert [v.id for v in list_holds(store)] == [soon, later, forever]
    assert [v.id for v in list_holds(store, active_only=False)] == [
        soon,
        later,
        forever,
        gone,
        released,
    ]
    assert [v.id for v in expiring_holds(store)] == [soon]
    assert [v.id for v in expiring_holds(store, timedelta(days=90))] == [soon, later]
    assert [v.id for v in list_holds(store, expiring_within=timedelta(days=90))] == [soon, later]


def test_a_finished_report_holds_itself_once(store: Store) -> None:
    world = small_world(store)
    with store.session() as s:
        report = s.get(CyberTipReport, world.report)
        assert report is not None
        first = place_report_hold(s, report=report, actor="web:carol")
        again = place_report_hold(s, report=report, actor="web:carol")
        assert again.id == first.id
        assert first.reference == "4242" and first.basis == "ncmec_report"
        assert first.expires_at is not None and report.finished_at is not None
        assert utc(first.expires_at) == utc(report.finished_at) + timedelta(days=365)
    with store.session() as s:
        assert s.query(LegalHold).count() == 1
    assert [e["actor"] for e in actions(store, "hold.placed")] == ["web:carol"]
