"""What a retroactive match of an operation's catalog changes in the store: accounts, priorities.

The recounted flagged accounts (``retro_catalog``) are compared with the store's: an account
not there is newly flagged and added (with no subject: joining it to others is identity
resolution, which needs the analysis run again); an account whose counts moved is updated, and
its subject's priority is scored again (``priority.rescore``). Only the latest analysis's
accounts are in the store (an analysis replaces them), so for an older operation the accounts
are compared with its own ``flagged_accounts.parquet`` and only reported.

Written in the caller's transaction, with the hash set's watermark: a run stopped before it
commits leaves the accounts as they were, and the next run finds them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.match.retro_catalog import CatalogChange
from kaitiaki.priority.rescore import PriorityChange, rescore
from kaitiaki.store.models import Account

COLUMNS = (
    "flagged_files",
    "uploads",
    "downloads",
    "views",
    "shares",
    "first_seen",
    "last_seen",
    "ips",
    "countries",
    "categories",
)
# The report lists at most this many objects and accounts (the counts are always whole).
REPORT_ITEMS = 100


@dataclass(frozen=True, slots=True)
class OperationEffect:
    analysis: str
    # Whether this operation's accounts are the store's (the latest analysis).
    current: bool
    objects_matched: int
    objects_now_flagged: int
    now_flagged: tuple[str, ...]
    accounts_newly_flagged: int
    newly_flagged: tuple[str, ...]
    accounts_updated: int
    priorities: tuple[PriorityChange, ...] = ()
    priorities_held_back: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "analysis": self.analysis,
            "current": self.current,
            "objects_matched": self.objects_matched,
            "objects_now_flagged": self.objects_now_flagged,
            "now_flagged": list(self.now_flagged),
            "accounts_newly_flagged": self.accounts_newly_flagged,
            "newly_flagged": list(self.newly_flagged),
            "accounts_updated": self.accounts_updated,
            "priorities": [p.as_json() for p in self.priorities],
            "priorities_held_back": list(self.priorities_held_back),
        }


def apply_accounts(
    session: Session, change: CatalogChange, *, actor: str, hash_set: str
) -> OperationEffect:
    operation = change.operation
    recounted = {str(r["account_id"]): r for r in change.accounts or []}
    if not operation.current:
        newly = sorted(set(recounted) - change.accounts_before)
        return _effect(change, newly, updated=0)
    held = {a.account_id: a for a in session.scalars(select(Account))}
    newly = sorted(set(recounted) - set(held))
    subjects: set[str] = set()
    updated = 0
    for account_id, row in recounted.items():
        account = held.get(account_id)
        if account is None:
            session.add(Account(account_id=account_id, **{c: row[c] for c in COLUMNS}))
            continue
        if all(_same(getattr(account, c), row[c]) for c in COLUMNS):
            continue
        for column in COLUMNS:
            setattr(account, column, row[column])
        updated += 1
        if account.subject_id is not None:
            subjects.add(account.subject_id)
    session.flush()
    rescored = rescore(
        session,
        subjects,
        actor=actor,
        because={"retro_match": hash_set, "analysis": str(operation.out)},
        workspace=operation.workspace,
    )
    return _effect(
        change, newly, updated, priorities=rescored.changed, held_back=rescored.held_back
    )


def _effect(
    change: CatalogChange,
    newly: list[str],
    updated: int,
    *,
    priorities: tuple[PriorityChange, ...] = (),
    held_back: tuple[str, ...] = (),
) -> OperationEffect:
    return OperationEffect(
        analysis=str(change.operation.out),
        current=change.operation.current,
        objects_matched=change.objects_matched,
        objects_now_flagged=len(change.newly_flagged),
        now_flagged=change.newly_flagged[:REPORT_ITEMS],
        accounts_newly_flagged=len(newly),
        newly_flagged=tuple(newly[:REPORT_ITEMS]),
        accounts_updated=updated,
        priorities=priorities,
        priorities_held_back=held_back,
    )


def _same(stored: object, counted: object) -> bool:
    # SQLite gives naive datetimes back; every time in the store is UTC.
    if isinstance(stored, datetime) and isinstance(counted, datetime):
        return _utc(stored) == _utc(counted)
    return stored == counted


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
