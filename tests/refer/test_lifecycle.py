"""The referral lifecycle: the allowed path, refused skips, and the history rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kaitiaki.refer.lifecycle import PATH, LifecycleError, change_status, history
from kaitiaki.store import Store
from kaitiaki.store.models import Referral


def _referral(store: Store, referral_id: str = "REF-1") -> None:
    with store.session() as session:
        session.add(Referral(id=referral_id, agency="Synthetic Police", country="NZ"))


def test_the_whole_path_is_recorded(store: Store) -> None:
    _referral(store)
    for day, status in enumerate(PATH[1:], 1):
        at = datetime(2021, 3, day, tzinfo=UTC)
        change_status(store, "REF-1", status, by="liaison", note=f"step {day}", at=at)
    rows = history(store, "REF-1")
    assert [r.status for r in rows] == list(PATH[1:])
    assert rows[0].by == "liaison" and rows[0].note == "step 1"
    assert rows[-1].at.day == len(PATH) - 1
    with store.session() as session:
        referral = session.get(Referral, "REF-1")
        assert referral is not None and referral.status == "convicted"


def test_a_skip_is_refused_naming_the_next_statuses(store: Store) -> None:
    _referral(store)
    with pytest.raises(LifecycleError, match=r"from 'draft' to 'arrest'.*'sent'"):
        change_status(store, "REF-1", "arrest", by="x")
    change_status(store, "REF-1", "sent", by="x")
    with pytest.raises(LifecycleError, match="'acknowledged' or 'no further action'"):
        change_status(store, "REF-1", "warrant", by="x")
    with pytest.raises(LifecycleError, match="already 'sent'"):
        change_status(store, "REF-1", "sent", by="x")
    change_status(store, "REF-1", "no-further-action", by="x", note="insufficient evidence")
    with pytest.raises(LifecycleError, match="final status"):
        change_status(store, "REF-1", "acknowledged", by="x")
    with pytest.raises(LifecycleError, match="unknown status 'lost'"):
        change_status(store, "REF-1", "lost", by="x")
    with pytest.raises(LifecycleError, match="no referral 'REF-9'"):
        change_status(store, "REF-9", "sent", by="x")
    # Refused changes leave no trace in the history.
    assert [r.status for r in history(store, "REF-1")] == ["sent", "no further action"]
