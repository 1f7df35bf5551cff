"""The flood guard on SQLite and PostgreSQL: counts kept in memory and written in one go, an
entry above its normal rate quarantined (audited as the guard), and a reviewer's release."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from in_process import kaitiaki
from kaitiaki.audit.reasons import ReasonError
from kaitiaki.hashsets.curate import add_entry, create_bank
from kaitiaki.hashsets.quarantine import EntryNotQuarantinedError, list_quarantined, release
from kaitiaki.match.flood import ACTOR, FloodGuard, FloodSettings, guard_for
from kaitiaki.match.lookup import lookup_signal
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, EntryMatchCount, HashSet, HashSetEntry, Job

CURATOR = "test:curator"
HOUR = 3600
# The start of some hour, as the guard's clock reads it.
T0 = 1_800_000_000 - 1_800_000_000 % HOUR


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings(floor: int = 5) -> FloodSettings:
    # Flushes only when asked: the tests decide when counts are written.
    return FloodSettings(floor=floor, flush_every_s=1e9, flush_at=10**9)


def entries(store: Store, *values: bytes) -> list[int]:
    create_bank(store, "BANK", enabled=True, actor=CURATOR)
    return [
        add_entry(store, "BANK", {"md5": hashlib.md5(v).hexdigest()}, actor=CURATOR) for v in values
    ]


def counts(store: Store, entry_id: int) -> dict[int, int]:
    with store.session() as session:
        rows = session.execute(
            select(EntryMatchCount.window_start, EntryMatchCount.matches).where(
                EntryMatchCount.entry_id == entry_id
            )
        ).all()
    from kaitiaki.match.controls import aware

    return {int(aware(w).timestamp()): n for w, n in rows}  # type: ignore[union-attr]


def quarantined(store: Store, entry_id: int) -> tuple[bool, str | None]:
    with store.session() as session:
        entry = session.get(HashSetEntry, entry_id)
        assert entry is not None
        return entry.quarantined_at is not None, entry.quarantine_reason


def version(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(HashSet.version).where(HashSet.name == "BANK")) or 0)


def test_counts_are_written_in_one_go_and_add_up_across_processes(store: Store) -> None:
    (entry,) = entries(store, b"one")
    clock = Clock(T0 + 10)
    first, second = FloodGuard(store, settings(), clock), FloodGuard(store, settings(), clock)
    first.count([entry, entry])
    second.count([entry])
    assert counts(store, entry) == {}  # nothing written before a flush
    assert first.flush() == [] and second.flush() == []
    assert counts(store, entry) == {T0: 3}
    clock.now = T0 + HOUR + 1  # the next window
    first.count([entry])
    first.flush()
    assert counts(store, entry) == {T0: 3, T0 + HOUR: 1}
    assert first.flush() == []  # nothing held: nothing written


def test_an_entry_above_the_floor_is_quarantined_and_audited(store: Store) -> None:
    hot, calm = entries(store, b"hot", b"calm")
    clock = Clock(T0 + 5)
    guard = FloodGuard(store, settings(floor=5), clock)
    guard.count([hot] * 5 + [calm] * 5)
    assert guard.flush() == []  # at the floor is not above it
    before = version(store)
    guard.count([hot])
    assert guard.flush() == [hot]
    held, reason = quarantined(store, hot)
    assert held and reason is not None and "6 matches" in reason
    assert quarantined(store, calm) == (False, None)
    assert version(store) == before + 1  # servers holding the set learn it changed
    with store.session() as session:
        audited = session.execute(
            select(AuditEvent.actor, AuditEvent.details).where(
                AuditEvent.action == "hashset.entry_quarantined"
            )
        ).all()
    assert [(a, d["entry_id"]) for a, d in audited] == [(ACTOR, hot)]
    # Quarantined once: more matches do not quarantine it again.
    guard.count([hot] * 10)
    assert guard.flush() == []


def test_the_normal_rate_is_the_mean_of_the_previous_windows(store: Store) -> None:
    (busy,) = entries(store, b"busy")
    clock = Clock(T0)
    guard = FloodGuard(store, settings(floor=25), clock)
    # 24 hours of 20 matches an hour (under the floor): normal is 20, a flood above 10 x 20.
    for hour in range(24):
        clock.now = T0 + hour * HOUR
        guard.count([busy] * 20)
        assert guard.flush() == []
    clock.now = T0 + 24 * HOUR
    guard.count([busy] * 200)
    assert guard.flush() == []
    guard.count([busy])
    assert guard.flush() == [busy]


def test_lookups_feed_the_guard_and_a_quarantined_entry_stops_matching(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAITIAKI_FLOOD_FLOOR", "3")
    monkeypatch.setenv("KAITIAKI_FLOOD_FLUSH_S", "1000000")
    (entry,) = entries(store, b"looked up")
    value = hashlib.md5(b"looked up").hexdigest()
    for _ in range(4):
        (hit,) = lookup_signal(store, "md5", value)
        assert hit.counts
    assert guard_for(store).flush() == [entry]
    (hit,) = lookup_signal(store, "md5", value)
    assert hit.quarantined and not hit.counts
    # A hit that does not count (quarantined) is not counted either.
    assert guard_for(store).flush() == []

    (listed,) = list_quarantined(store)
    assert (listed.entry_id, listed.hash_set, listed.signals) == (entry, "BANK", {"md5": value})
    with pytest.raises(ReasonError):
        release(store, entry, reason="ok", actor="web:rita")
    released = release(store, entry, reason="a real surge of reports", actor="web:rita")
    assert released.reason is not None and "4 matches" in released.reason
    assert list_quarantined(store) == []
    (hit,) = lookup_signal(store, "md5", value)
    assert hit.counts
    # The flooded window's count went with the release: one more match is not a new flood.
    assert guard_for(store).flush() == []
    with pytest.raises(EntryNotQuarantinedError):
        release(store, entry, reason="a real surge of reports", actor="web:rita")
    with store.session() as session:
        event = session.execute(
            select(AuditEvent.actor, AuditEvent.details).where(
                AuditEvent.action == "hashset.entry_released"
            )
        ).one()
        jobs = list(session.scalars(select(Job.params).where(Job.kind == "retro_match")))
    assert event.actor == "web:rita" and event.details["reason"] == "a real surge of reports"
    assert {"hash_set": "BANK"} in jobs  # what it would have matched meanwhile is found


def test_the_commands_list_and_release(store: Store) -> None:
    (entry,) = entries(store, b"cli")
    guard = FloodGuard(store, settings(floor=1), Clock(T0))
    guard.count([entry, entry])
    assert guard.flush() == [entry]
    listed = kaitiaki("hashset", "quarantine", "--db", store.url)
    assert listed.exit_code == 0, listed.output
    assert f"entry {entry} of 'BANK'" in listed.stdout and "2 matches" in listed.stdout
    refused = kaitiaki("hashset", "release", str(entry), "--reason", "x", "--db", store.url)
    assert refused.exit_code == 1 and "reason" in refused.stderr
    done = kaitiaki(
        "hashset", "release", str(entry), "--reason", "checked by hand, real", "--db", store.url
    )
    assert done.exit_code == 0, done.output
    assert quarantined(store, entry) == (False, None)
    again = kaitiaki("hashset", "quarantine", "--db", store.url)
    assert again.stdout.strip() == "no entries in quarantine"
    gone = kaitiaki(
        "hashset", "release", str(entry), "--reason", "checked again", "--db", store.url
    )
    assert gone.exit_code == 1 and "not in quarantine" in gone.stderr


def test_settings_from_the_environment() -> None:
    assert FloodSettings.from_env({}) == FloodSettings()
    got = FloodSettings.from_env({"KAITIAKI_FLOOD_WINDOW_S": "600", "KAITIAKI_FLOOD_FACTOR": "4"})
    assert (got.window_s, got.factor, got.floor) == (600, 4.0, 100)
    assert not FloodSettings.from_env({"KAITIAKI_FLOOD_GUARD": "off"}).enabled
    with pytest.raises(ValueError):
        FloodSettings.from_env({"KAITIAKI_FLOOD_HISTORY": "0"})
    assert FloodSettings(floor=100, factor=10, history=24).limit(24 * 30) == 300
    assert FloodSettings(floor=100, factor=10, history=24).limit(24) == 100
