"""Scores, reasons, tiers and overrides on hand-built subjects."""

from __future__ import annotations

from pathlib import Path

import pytest
from priority_samples import add_subject
from sqlalchemy import select

from kaitiaki.priority import (
    PriorityError,
    WeightsError,
    default_weights,
    load_weights,
    override,
    priorities,
    prioritise,
)
from kaitiaki.priority.factors import SubjectData, evaluate
from kaitiaki.store import Store
from kaitiaki.store.models import Enrichment, Priority


def test_uploader_of_new_material_ranks_above_a_viewer() -> None:
    weights = default_weights()
    producer = SubjectData("p", ["a"], flagged_files=3, uploads=3, new_uploads=2, reach=5)
    viewer = SubjectData("v", ["b"], flagged_files=3, views=10, new_uploads=0, reach=0)
    scores = {d.subject_id: sum(f.points for f in evaluate(d, weights)) for d in (producer, viewer)}
    assert scores["p"] > scores["v"]
    top = evaluate(producer, weights)[0]
    assert top.factor == "new_material"
    assert "new file" in top.reason and "later categorised" in top.reason


def test_stored_priorities_carry_reasons(store: Store) -> None:
    add_subject(store, "S-up", uploads=20, shares=5, flagged_files=120, days=400)
    add_subject(store, "S-view", views=2, categories="3")
    results = prioritise(store, actor="test:setup")
    assert [r.subject_id for r in results] == ["S-up", "S-view"]
    top = results[0]
    assert top.score > results[1].score
    assert any("uploaded flagged files 20 time(s)" in r for r in top.reasons)
    assert any("active over 400 day(s)" in r for r in top.reasons)
    # Without records, the record-based factors say so rather than scoring silently.
    reasons = {f["factor"]: f["reason"] for f in top.factors}
    assert reasons["reach"] == "not assessed: no records"
    with store.session() as session:
        row = session.get(Priority, "S-up")
        assert row is not None and row.tier == top.tier and row.factors


def test_enrichment_raises_the_tier_with_the_reason(store: Store) -> None:
    add_subject(store, "S1", views=3)
    before = prioritise(store, actor="test:setup")[0]
    with store.session() as session:
        for name in ("access_to_children", "position_of_trust"):
            session.add(Enrichment(subject_id="S1", indicator=name, value="yes"))
    after = prioritise(store, actor="test:setup")[0]
    order = ("low", "medium", "high", "very high")
    assert order.index(after.tier) > order.index(before.tier)
    assert "has access to children (partner enrichment)" in after.reasons
    assert "holds a position of trust (partner enrichment)" in after.reasons


def test_override_is_recorded_and_kept_on_recompute(store: Store) -> None:
    add_subject(store, "S1", views=1)
    assert prioritise(store, actor="test:setup")[0].tier == "low"
    with pytest.raises(PriorityError, match="reason"):
        override(store, "S1", "high", "  ", "alice")
    with pytest.raises(PriorityError, match="unknown tier"):
        override(store, "S1", "urgent", "seen in the interview", "alice")
    with pytest.raises(PriorityError, match="compute"):
        override(store, "nobody", "high", "seen in the interview", "alice")
    override(store, "S1", "very-high", "disclosed abuse in interview", "alice")
    again = prioritise(store, actor="test:setup")[0]
    assert again.tier == "low" and again.effective_tier == "very high"
    assert again.override_reason == "disclosed abuse in interview"
    assert again.override_by == "alice"
    assert [r.subject_id for r in priorities(store, tier="very high")] == ["S1"]
    assert priorities(store, tier="low") == []
    with store.session() as session:
        row = session.scalars(select(Priority)).one()
        assert row.override_at is not None


def test_weights_file_overrides_defaults(sqlite_store: Store, tmp_path: Path) -> None:
    add_subject(sqlite_store, "S1", views=1)
    path = tmp_path / "w.toml"
    path.write_text("[factors.volume]\nweight = 100\nfull_at = 1\n[tiers]\nvery_high = 50\n")
    result = prioritise(sqlite_store, weights=load_weights(path), actor="test:setup")[0]
    assert result.tier == "very high"
    path.write_text("[factors.charm]\nweight = 1\n")
    with pytest.raises(WeightsError, match="unknown factor 'charm'"):
        load_weights(path)
    path.write_text("[tiers]\nhigh = 99\n")
    with pytest.raises(WeightsError, match="very_high >= high"):
        load_weights(path)
