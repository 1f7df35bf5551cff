"""What a legal hold covers: every target type and every rule, standing holds only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from holds_samples import World, add_hold, small_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from kaitiaki.legal.coverage import HeldError, covering_holds, ensure_deletable
from kaitiaki.legal.deletion import delete_record
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import LegalHold
from store_templates import migrated_sqlite

FUTURE = datetime.now(UTC) + timedelta(days=30)


def _blocked(store: Store, world: World) -> set[tuple[str, str]]:
    found = set()
    with store.session() as s:
        for kind, target in world.targets():
            try:
                ensure_deletable(s, kind, target)
            except HeldError:
                found.add((kind, target))
    return found


@pytest.mark.parametrize(
    ("hold", "covered"),
    [
        (("account", "acct-1"), {("account", "acct-1"), ("subject", "S-1")}),
        (("account", "acct-4"), {("account", "acct-4")}),
        (
            ("subject", "S-1"),
            {("subject", "S-1"), ("account", "acct-1"), ("account", "acct-2")},
        ),
        (("evidence", "laptop"), {("evidence", "laptop")}),
        (
            ("report", "R"),
            {
                ("report", "R"),
                ("subject", "S-2"),
                ("account", "acct-3"),
                ("evidence", "laptop"),
                ("evidence", "phone"),
            },
        ),
    ],
)
def test_each_rule_covers_exactly_what_it_says(
    store: Store, hold: tuple[str, str], covered: set[tuple[str, str]]
) -> None:
    world = small_world(store)
    names = {"laptop": str(world.laptop), "phone": str(world.phone), "R": str(world.report)}
    hold_id = add_hold(store, hold[0], names.get(hold[1], hold[1]), expires_at=FUTURE)
    expected = {(k, names.get(t, t)) for k, t in covered}
    assert _blocked(store, world) == expected
    for kind, target in sorted(expected):
        with store.session() as s, pytest.raises(HeldError, match=f"hold {hold_id} "):
            delete_record(s, kind, target, actor="test")
        with store.session() as s:
            assert [h.id for h in covering_holds(s, kind, target)] == [hold_id]


def test_released_and_expired_holds_do_not_block(store: Store) -> None:
    world = small_world(store)
    add_hold(store, "subject", "S-1", released=True, expires_at=FUTURE)
    add_hold(store, "evidence", str(world.laptop), expires_at=datetime.now(UTC) - timedelta(1))
    add_hold(store, "report", str(world.report), released=True)
    assert _blocked(store, world) == set()


def test_a_hold_without_expiry_stands_and_the_error_names_every_hold(store: Store) -> None:
    world = small_world(store)
    first = add_hold(store, "account", "acct-3", basis="court_order")
    second = add_hold(store, "report", str(world.report), basis="ncmec_report")
    with store.session() as s, pytest.raises(HeldError) as caught:
        ensure_deletable(s, "subject", "S-2")
    assert caught.value.hold_ids == [first, second]
    assert f"hold {first} (court_order on account acct-3)" in str(caught.value)
    assert f"hold {second} (ncmec_report on report {world.report})" in str(caught.value)


def test_the_hold_is_judged_at_the_given_time(store: Store) -> None:
    small_world(store)
    add_hold(store, "account", "acct-4", expires_at=FUTURE)
    with store.session() as s:
        assert covering_holds(s, "account", "acct-4")
        assert not covering_holds(s, "account", "acct-4", at=FUTURE + timedelta(seconds=1))


HOLD = st.tuples(
    st.sampled_from(
        [
            ("account", "acct-1"),
            ("account", "acct-3"),
            ("account", "acct-4"),
            ("subject", "S-1"),
            ("subject", "S-2"),
            ("evidence", "laptop"),
            ("evidence", "phone"),
            ("report", "R"),
            ("account", "nobody"),
        ]
    ),
    st.booleans(),  # released
    st.one_of(st.none(), st.integers(min_value=-400, max_value=400)),  # expiry, days from now
)


@pytest.fixture(scope="module")
def hypothesis_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, World]:
    store = open_store(migrated_sqlite(tmp_path_factory.mktemp("h") / "k.db"))
    return store, small_world(store)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(holds=st.lists(HOLD, max_size=6), probe=st.integers(min_value=-400, max_value=400))
def test_ensure_deletable_agrees_with_a_reference_model(
    hypothesis_store: tuple[Store, World],
    holds: list[tuple[tuple[str, str], bool, int | None]],
    probe: int,
) -> None:
    store, world = hypothesis_store
    now = datetime(2026, 6, 1, tzinfo=UTC)
    at = now + timedelta(days=probe, hours=12)
    names = {"laptop": str(world.laptop), "phone": str(world.phone), "R": str(world.report)}
    with store.session() as s:
        s.execute(delete(LegalHold))
    expected: set[tuple[str, str]] = set()
    for (kind, target), released, days in holds:
        expires = None if days is None else now + timedelta(days=days)
        target = names.get(target, target)
        add_hold(store, kind, target, expires_at=expires, released=released)
        if not released and (expires is None or expires > at):
            expected |= world.covers((kind, target))
    with store.session() as s:
        found = set()
        for kind, target in world.targets():
            try:
                ensure_deletable(s, kind, target, at=at)
            except HeldError:
                found.add((kind, target))
    assert found == expected & set(world.targets())
