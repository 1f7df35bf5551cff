"""Queueing a retroactive match when a hash set gains entries: one queued job per set."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kaitiaki.hashsets.derived import write_hash_set
from kaitiaki.hashsets.entry import Entry
from kaitiaki.match.retro_trigger import request_retro_match
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, HashSet, Job


def _set(store: Store, name: str) -> None:
    with store.session() as session:
        write_hash_set(
            session,
            name,
            [Entry(md5="0" * 32)],
            profile="none",
            source="test",
            source_format="list",
            source_sha256=None,
            actor="test:setup",
        )


def _queued(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.scalars(select(Job).where(Job.kind == "retro_match").order_by(Job.id))
        return [(j.params["hash_set"], j.status, j.created_by) for j in rows]


def _request(store: Store, name: str, actor: str) -> None:
    with store.session() as session:
        row = session.scalars(select(HashSet).where(HashSet.name == name)).one()
        request_retro_match(session, row, actor)


def test_one_queued_job_per_set_until_it_starts(store: Store) -> None:
    # Making a set with entries queues its match, as whoever made it.
    _set(store, "a")
    _set(store, "b")
    assert _queued(store) == [("a", "queued", "test:setup"), ("b", "queued", "test:setup")]
    # More entries while those wait: the waiting jobs will take them.
    _request(store, "a", "alice")
    _request(store, "b", "bob")
    assert len(_queued(store)) == 2
    # Once a waiting job has started, new entries need a job of their own.
    with store.session() as session:
        for job in session.scalars(select(Job).where(Job.kind == "retro_match")):
            job.status = "running"
    _request(store, "a", "carol")
    _request(store, "a", "dave")
    assert _queued(store)[2:] == [("a", "queued", "carol")]
    with store.session() as session:
        submitted = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "job_submitted")
        ).all()
    assert [e.actor for e in submitted] == ["test:setup", "test:setup", "carol"]


def test_a_rolled_back_change_queues_nothing(store: Store) -> None:
    _set(store, "a")
    with store.session() as session:
        session.scalars(select(Job)).one().status = "running"
    before = _queued(store)
    with pytest.raises(RuntimeError), store.session() as session:
        row = session.scalars(select(HashSet).where(HashSet.name == "a")).one()
        request_retro_match(session, row, "alice")
        raise RuntimeError("the import failed after queueing")
    assert _queued(store) == before
    with pytest.raises(ValueError, match="actor"), store.session() as session:
        row = session.scalars(select(HashSet).where(HashSet.name == "a")).one()
        request_retro_match(session, row, " ")
