"""Exchanges in the store: add (with the hash set it feeds), list, status, remove; all audited.

Credentials are encrypted before they reach the session and are never part of a returned
value, an audit entry or an error message: ``ExchangeView`` has no field for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.exchanges import secret
from kaitiaki.exchanges.api_credentials import has_api_credentials
from kaitiaki.exchanges.registry import (
    ExchangeError,
    ExchangeExistsError,
    ExchangeMissingError,
    api_class,
    collab_config,
    needs_credentials,
    parse_credentials,
)
from kaitiaki.exchanges.timing import DEFAULT_EVERY, check_every, next_fetch_at
from kaitiaki.hashsets import write_hash_set
from kaitiaki.store import Store
from kaitiaki.store.models import Exchange, ExchangeItem, HashSet, Job

MAX_NAME = 100
# ``add_exchange``'s schedule when none is given: the API's default (see ``timing``).
DEFAULT: Any = "default"
# ``jobs.view``'s states of a job not yet finished, written out: importing the jobs package
# from here would import every job kind, one of which imports this module.
ACTIVE = ("queued", "running")
FETCH_KIND = "fetch_exchange"


@dataclass(frozen=True)
class FetchJob:
    """A fetch job of the exchange not yet finished: queued, or running with its progress."""

    id: int
    status: str
    done: int
    message: str


@dataclass(frozen=True)
class ExchangeView:
    """What may be shown of an exchange: everything but its credentials."""

    name: str
    api: str
    hash_set: str
    config: dict[str, Any]
    has_credentials: bool
    enabled: bool
    last_fetch_started: datetime | None
    last_fetch_finished: datetime | None
    last_fetch_status: str | None
    last_fetch_items: int | None
    last_error: str | None
    items: int
    created_by: str
    created_at: datetime
    # Seconds between scheduled fetches (None: by hand only) and when the next one is due.
    fetch_every_s: int | None = None
    next_fetch_at: datetime | None = None
    job: FetchJob | None = None


def add_exchange(
    store: Store,
    name: str,
    api: str,
    *,
    hash_set: str | None = None,
    path: str | None = None,
    config: dict[str, Any] | None = None,
    credentials: str | None = None,
    every: int | None = DEFAULT,
    actor: str,
) -> ExchangeView:
    """Register an exchange feeding ``hash_set`` (default: the exchange's name), creating the
    set if it does not exist. Settings and credentials are checked before anything is stored.
    ``every``: seconds between scheduled fetches, None for by hand only; by default the API's
    (``timing.DEFAULT_EVERY``)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ExchangeError(f"exchange name must be 1 to {MAX_NAME} characters")
    api_cls = api_class(api)
    if every is DEFAULT:
        every = DEFAULT_EVERY.get(api)
    elif every is not None:
        check_every(every)
    settings = dict(config or {})
    if path is not None:
        if "filename" in settings:
            raise ExchangeError("give the file either as --path or as config 'filename', not both")
        listed = Path(path).expanduser().resolve()
        if not listed.is_file():
            raise ExchangeError(f"{path}: no such file")
        # Absolute: a fetch may run from another folder (a background job, the server).
        settings["filename"] = str(listed)
    collab_config(api_cls, name, settings)  # raises on a missing or unknown setting
    sealed: str | None = None
    if credentials is not None:
        parse_credentials(api_cls, credentials)
        sealed = secret.encrypt(credentials.strip())
    set_name = (hash_set or name).strip()
    with store.session() as session:
        # Without its own, an exchange uses its API's credentials (HMA sets them per API).
        if sealed is None and needs_credentials(api_cls) and not has_api_credentials(session, api):
            raise ExchangeError(f"{api} needs credentials")
        if session.scalar(select(Exchange.id).where(Exchange.name == name)) is not None:
            raise ExchangeExistsError(name)
        created_set = False
        if session.scalar(select(HashSet.id).where(HashSet.name == set_name)) is None:
            write_hash_set(
                session,
                set_name,
                [],
                profile="none",
                source=f"exchange {name} ({api})",
                source_format="exchange",
                source_sha256=None,
                actor=actor,
            )
            created_set = True
        row = Exchange(
            name=name,
            api=api,
            config=settings,
            credentials=sealed,
            hash_set=set_name,
            enabled=True,
            created_by=actor,
            fetch_every_s=every,
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor=actor,
            action="exchange.added",
            target_type="exchange",
            target_id=str(row.id),
            details={
                "name": name,
                "api": api,
                "hash_set": set_name,
                "hash_set_created": created_set,
                "config": settings,
                # Whether credentials were given, never what they are.
                "credentials": sealed is not None,
                "fetch_every_s": every,
            },
        )
        return _view(session, row)


def list_exchanges(store: Store) -> list[ExchangeView]:
    with store.session() as session:
        jobs = fetch_jobs(session)
        rows = session.scalars(select(Exchange).order_by(Exchange.name))
        return [_view(session, row, jobs) for row in rows]


def page_exchanges(
    store: Store,
    *,
    shape: Callable[[Select[Any]], Select[Any]],
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[ExchangeView]]:
    """How many exchanges ``shape`` (a list's filters and order) keeps, and the ``limit`` of
    them from ``offset`` (all with None)."""
    query = shape(select(Exchange))
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        jobs = fetch_jobs(session)
        rows = session.scalars(query.offset(offset).limit(limit))
        return total, [_view(session, row, jobs) for row in rows]


def exchange_status(store: Store, name: str) -> ExchangeView:
    with store.session() as session:
        return _view(session, find(session, name))


def fetch_jobs(session: Session) -> dict[str, FetchJob]:
    """Each exchange's unfinished fetch job, by exchange name (the running one before any
    queued one, the older first)."""
    found: dict[str, FetchJob] = {}
    rows = session.execute(
        select(Job.id, Job.status, Job.done, Job.message, Job.params)
        .where(Job.kind == FETCH_KIND, Job.status.in_(ACTIVE))
        .order_by(Job.status.desc(), Job.id)  # "running" sorts after "queued": desc first
    )
    for job_id, status, done, message, params in rows:
        name = (params or {}).get("exchange")
        if isinstance(name, str) and name not in found:
            found[name] = FetchJob(job_id, status, int(done or 0), message or "")
    return found


def set_exchange_enabled(store: Store, name: str, enabled: bool, *, actor: str) -> ExchangeView:
    """Turn the exchange on or off; audited only when that changes something."""
    with store.session() as session:
        row = find(session, name)
        if row.enabled != enabled:
            row.enabled = enabled
            record(
                session,
                actor=actor,
                action="exchange.enabled" if enabled else "exchange.disabled",
                target_type="exchange",
                target_id=str(row.id),
                details={"name": name},
            )
        return _view(session, row)


def remove_exchange(store: Store, name: str, *, actor: str) -> int:
    """Forget the exchange, its credentials, checkpoint and items; returns the items dropped.
    The hash set it fed stays, entries included (``hashset remove`` removes it)."""
    with store.session() as session:
        row = find(session, name)
        result = session.execute(delete(ExchangeItem).where(ExchangeItem.exchange_id == row.id))
        dropped = int(getattr(result, "rowcount", 0) or 0)
        record(
            session,
            actor=actor,
            action="exchange.removed",
            target_type="exchange",
            target_id=str(row.id),
            details={"name": name, "api": row.api, "hash_set": row.hash_set, "items": dropped},
        )
        session.delete(row)
        return dropped


def find(session: Session, name: str) -> Exchange:
    row = session.scalar(select(Exchange).where(Exchange.name == name))
    if row is None:
        raise ExchangeMissingError(name)
    return row


def _view(session: Session, row: Exchange, jobs: dict[str, FetchJob] | None = None) -> ExchangeView:
    if jobs is None:
        jobs = fetch_jobs(session)
    items = session.scalar(
        select(func.count()).select_from(ExchangeItem).where(ExchangeItem.exchange_id == row.id)
    )
    return ExchangeView(
        name=row.name,
        api=row.api,
        hash_set=row.hash_set,
        config=dict(row.config or {}),
        has_credentials=row.credentials is not None,
        enabled=row.enabled,
        last_fetch_started=row.last_fetch_started,
        last_fetch_finished=row.last_fetch_finished,
        last_fetch_status=row.last_fetch_status,
        last_fetch_items=row.last_fetch_items,
        last_error=row.last_error,
        items=int(items or 0),
        created_by=row.created_by,
        created_at=row.created_at,
        fetch_every_s=row.fetch_every_s,
        next_fetch_at=next_fetch_at(
            enabled=row.enabled,
            every=row.fetch_every_s,
            last_started=row.last_fetch_started,
            created_at=row.created_at,
        ),
        job=jobs.get(row.name),
    )
