"""Fetch an exchange: incremental, checkpointed, safe to kill at any moment.

The package's client yields deltas, each with the checkpoint that follows it. Each delta is
applied in batches; a batch's changes (items, hash-set entries, audit entry) commit in one
transaction, and the delta's last batch commits its checkpoint with it. A fetch killed anywhere
restarts from the last stored checkpoint and reapplies at most one delta, which changes nothing
already applied (items are keyed by signal, or by record and signal), so nothing is lost
and nothing duplicated.

A full fetch (the first, one after a stale checkpoint, and every fetch of a list that comes
whole, like a file) also removes what the exchange no longer holds: it records when it began in
the stored checkpoint, every item it sees is touched, and once the client is exhausted the items
not touched since are deleted. Recording the start in the checkpoint lets a full fetch killed
mid-way finish its sweep when it resumes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from threatexchange.exchanges import fetch_state as state

from kaitiaki.audit import record
from kaitiaki.exchanges.api_credentials import exchange_credentials
from kaitiaki.exchanges.apply import BatchResult, apply_operations, remove_entries, to_operations
from kaitiaki.exchanges.manage import find
from kaitiaki.exchanges.registry import (
    ApiClass,
    Credentials,
    ExchangeError,
    api_class,
    collab_config,
    is_snapshot,
    load_checkpoint,
    make_client,
    signal_types,
)
from kaitiaki.match.retro_trigger import request_retro_match
from kaitiaki.store import Store
from kaitiaki.store.models import Exchange, ExchangeItem, HashSet, utcnow

BATCH = 1_000
MAX_ERROR = 2_000


@dataclass
class FetchReport:
    """Where a fetch is (passed to ``on_progress`` after each batch) or how it ended."""

    name: str
    full: bool
    batches: int = 0
    updates: int = 0
    swept: int = 0
    result: BatchResult = field(default_factory=BatchResult)

    def as_json(self) -> dict[str, Any]:
        done = self.result
        return {
            "exchange": self.name,
            "full": self.full,
            "batches": self.batches,
            "updates": self.updates,
            "items_updated": done.updated,
            "items_deleted": done.deleted,
            "entries_added": done.entries_added,
            "entries_removed": done.entries_removed,
            "unmapped_deletes": done.unmapped_deletes,
        }


ProgressCallback = Callable[[FetchReport], None]


def fetch(
    store: Store,
    name: str,
    *,
    actor: str,
    on_progress: ProgressCallback | None = None,
    batch_size: int = BATCH,
) -> FetchReport:
    """Fetch what is new at the exchange into its hash set; see the module's docstring."""
    with store.session() as session:
        row = find(session, name)
        api_cls = api_class(row.api)
        collab = collab_config(api_cls, row.name, dict(row.config or {}))
        credentials = exchange_credentials(session, row)
        checkpoint, full_since = _plan(api_cls, row.checkpoint)
        row.last_fetch_started = utcnow()
        row.last_fetch_status = "running"
        row.last_error = None
        stored = row.checkpoint
    report = FetchReport(name=name, full=full_since is not None and checkpoint is None)
    try:
        client = make_client(api_cls, collab, credentials)
        for delta in client.fetch_iter(signal_types(), checkpoint):
            updates = list(delta.updates.items())
            chunks = [updates[i : i + batch_size] for i in range(0, len(updates), batch_size)]
            new_checkpoint = _serialise(delta.checkpoint, full_since)
            for number, chunk in enumerate(chunks or [[]], start=1):
                last = number == max(1, len(chunks))
                with store.session() as session:
                    row, hash_set = _rows(session, name, stored)
                    ops = to_operations(api_cls, collab, chunk)
                    done = apply_operations(
                        session, row, hash_set, ops.signals, utcnow(), ops.records
                    )
                    done.unmapped_deletes = ops.unmapped
                    if last:
                        row.checkpoint = stored = new_checkpoint
                    report.batches += 1
                    report.updates += len(chunk)
                    report.result.add(done)
                    row.last_fetch_items = report.updates
                    if done.changed():
                        _audit(session, row, actor, done)
                    if done.entries_added:
                        request_retro_match(session, hash_set, actor)
                if on_progress is not None:
                    on_progress(report)
        with store.session() as session:
            row, hash_set = _rows(session, name, stored)
            if full_since is not None:
                swept = _sweep(session, row, hash_set, full_since)
                report.swept = swept.deleted
                report.result.add(swept)
                if swept.changed():
                    _audit(session, row, actor, swept)
                row.checkpoint = {**(row.checkpoint or {}), "full_since": None}
            row.last_fetch_finished = utcnow()
            row.last_fetch_status = "ok"
            row.last_fetch_items = report.updates
    except BaseException as exc:
        _failed(store, name, exc, credentials)
        raise
    return report


def _plan(
    api_cls: ApiClass, stored: dict[str, Any] | None
) -> tuple[state.FetchCheckpointBase | None, datetime | None]:
    """The checkpoint to resume from (None: from scratch) and, for a full fetch, when the full
    fetch began (items not seen since are deleted at its end)."""
    if is_snapshot(api_cls) or not stored or stored.get("api") is None:
        return None, utcnow()
    try:
        checkpoint = load_checkpoint(api_cls, stored["api"])
    except Exception:
        # A checkpoint this version of the package cannot read is as good as stale.
        return None, utcnow()
    if checkpoint.is_stale():
        return None, utcnow()
    since = stored.get("full_since")
    return checkpoint, datetime.fromisoformat(since) if since else None


def _serialise(
    checkpoint: state.FetchCheckpointBase, full_since: datetime | None
) -> dict[str, Any]:
    return {
        "api": asdict(checkpoint),
        "full_since": full_since.isoformat() if full_since is not None else None,
    }


def _rows(session: Session, name: str, expected: dict[str, Any] | None) -> tuple[Exchange, HashSet]:
    row = find(session, name)
    if row.checkpoint != expected:
        # Another fetch of the same exchange moved the checkpoint: two writers would each
        # think the other's batches are theirs to resume from.
        raise ExchangeError(f"exchange {name!r} is being fetched by another process")
    hash_set = session.scalar(select(HashSet).where(HashSet.name == row.hash_set))
    if hash_set is None:
        raise ExchangeError(f"hash set {row.hash_set!r} of exchange {name!r} no longer exists")
    return row, hash_set


def _sweep(session: Session, row: Exchange, hash_set: HashSet, since: datetime) -> BatchResult:
    stale = list(
        session.scalars(
            select(ExchangeItem).where(
                ExchangeItem.exchange_id == row.id, ExchangeItem.updated_at < since
            )
        )
    )
    entries = {item.entry_id for item in stale if item.entry_id is not None}
    for item in stale:
        session.delete(item)
    session.flush()
    # An entry a live record's item still points at (a hash several records carry) stays.
    if entries:
        kept = session.scalars(
            select(ExchangeItem.entry_id).where(
                ExchangeItem.exchange_id == row.id, ExchangeItem.entry_id.in_(sorted(entries))
            )
        )
        entries -= set(kept)
    removed = remove_entries(session, hash_set, sorted(e for e in entries if e is not None))
    return BatchResult(deleted=len(stale), entries_removed=removed)


def _audit(session: Session, row: Exchange, actor: str, done: BatchResult) -> None:
    record(
        session,
        actor=actor,
        action="exchange.fetched",
        target_type="exchange",
        target_id=str(row.id),
        details={
            "name": row.name,
            "hash_set": row.hash_set,
            "items_seen": done.seen,
            "items_updated": done.updated,
            "items_deleted": done.deleted,
            "entries_added": done.entries_added,
            "entries_removed": done.entries_removed,
            "unmapped_deletes": done.unmapped_deletes,
        },
    )


def redact(text: str, credentials: Credentials | None) -> str:
    """``text`` without the credentials or any part of them (a token in a failed request's URL,
    a password in a client's message)."""
    if isinstance(credentials, dict):
        parts = {str(v) for v in credentials.values() if v is not None}
    elif credentials:
        parts = {credentials, *credentials.split(":")}
    else:
        parts = set()
    if parts:
        for part in sorted((p for p in parts if len(p) >= 4), key=len, reverse=True):
            text = text.replace(part, "***")
    return text


def _failed(store: Store, name: str, exc: BaseException, credentials: Credentials | None) -> None:
    status = "error" if isinstance(exc, Exception) else "interrupted"
    message = redact(f"{type(exc).__name__}: {exc}", credentials)[:MAX_ERROR]
    # The fetch's own error is the one to report, not a failure to record it.
    with contextlib.suppress(Exception), store.session() as session:
        row = find(session, name)
        row.last_fetch_finished = utcnow()
        row.last_fetch_status = status
        row.last_error = message
