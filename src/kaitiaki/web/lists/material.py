"""The material: evidence (and the review queue's index of it), files, hash sets and jobs."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select

from kaitiaki.hashsets.profiles import PROFILES
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Classification,
    Evidence,
    Exchange,
    File,
    FileInstance,
    HashSet,
    Job,
)
from kaitiaki.web.api import evidence, files, hashsets
from kaitiaki.web.api.common import job_out
from kaitiaki.web.listing import (
    Column,
    Filter,
    Found,
    ListQuery,
    ListSpec,
    Page,
    cells,
    contains,
    domain_list,
    equals,
    sql_list,
)

YES_NO = ("yes", "no")


def _label(name: str) -> Column:
    return Column(name, lambda e: e.labels.get(name, 0))


INSTANCE_COUNT = (
    select(func.count())
    .where(FileInstance.evidence_id == Evidence.id)
    .correlate(Evidence)
    .scalar_subquery()
)

EVIDENCE = ListSpec(
    name="evidence",
    sorts={
        "name": Evidence.name,
        "instances": INSTANCE_COUNT,
        "acquired_by": Evidence.acquired_by,
        "created": Evidence.created_at,
    },
    default_sort="name",
    tiebreak=Evidence.id,
    filters={"q": Filter(contains(Evidence.name, Evidence.description, Evidence.acquired_by))},
    columns=(
        *cells("id", "name", "description", "instances"),
        *(_label(n) for n in ("known", "new", "ignorable", "error")),
        *cells("acquired_by", "created_at", "legal_basis", "manifest_sha256"),
    ),
)
# The review queue's index: the same rows, for reviewers.
REVIEW = dataclasses.replace(EVIDENCE, name="review")


def evidence_list(store: Store, query: ListQuery) -> Found:
    page, fetch = sql_list(store, select(Evidence), query, lambda row: row[0])

    # Each item's counts in queries of their own: a page (or an export chunk) at a time.
    def described(offset: int, limit: int) -> list[evidence.EvidenceOut]:
        return [evidence._out(store, e) for e in fetch(offset, limit)]

    items = [evidence._out(store, e) for e in page.items]
    return Page(items, page.total, query), described


FILES = ListSpec(
    name="files",
    sorts={
        "evidence": Classification.evidence_id,
        "sha256": Classification.sha256,
        "kind": File.kind,
        "size": File.size,
        "label": Classification.label,
        "category": Classification.category,
        "series": Classification.series,
        "hash_set": HashSet.name,
    },
    default_sort="evidence",
    tiebreak=Classification.sha256,
    # The files page showed 100 a page before it took ``per_page``; it still does.
    per_page=100,
    filters={
        "evidence_id": Filter(
            lambda query, value: query.where(Classification.evidence_id == int(value)),
            number=True,
        ),
        "label": Filter(
            equals(Classification.label), choices=("known", "new", "ignorable", "error")
        ),
        "category": Filter(equals(Classification.category), max_length=20),
        "series": Filter(equals(Classification.series)),
        "kind": Filter(equals(File.kind), max_length=16),
    },
    columns=cells(
        "evidence_id",
        "sha256",
        "kind",
        "mime",
        "size",
        "label",
        "category",
        "series",
        "hash_set",
        "signal",
        "distance",
        "group",
    ),
)


def file_list(store: Store, query: ListQuery) -> Found:
    return sql_list(store, files._base(), query, files.file_row)


HASH_SETS = ListSpec(
    name="hashsets",
    sorts={
        "name": HashSet.name,
        "source": HashSet.source,
        "profile": HashSet.profile,
        "entries": HashSet.entry_count,
        "enabled": HashSet.enabled,
        "imported": HashSet.imported_at,
    },
    default_sort="name",
    tiebreak=HashSet.id,
    filters={
        "q": Filter(contains(HashSet.name, HashSet.source)),
        "profile": Filter(equals(HashSet.profile), choices=tuple(PROFILES)),
        "enabled": Filter(
            lambda query, value: query.where(HashSet.enabled.is_(value == "yes")), choices=YES_NO
        ),
    },
    columns=cells(
        "id",
        "name",
        "source",
        "profile",
        "pdq_threshold",
        "enabled",
        "entry_count",
        "imported_at",
        "source_format",
        "source_sha256",
    ),
)


def hash_set_list(store: Store, query: ListQuery) -> Found:
    return sql_list(store, select(HashSet), query, lambda row: hashsets._out(row[0]))


JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")

JOBS = ListSpec(
    name="jobs",
    sorts={
        "id": Job.id,
        "kind": Job.kind,
        "status": Job.status,
        "by": Job.created_by,
        "created": Job.created_at,
        "finished": Job.finished_at,
    },
    default_sort="-id",
    tiebreak=Job.id,
    filters={
        "q": Filter(contains(Job.kind, Job.created_by, Job.message)),
        "status": Filter(equals(Job.status), choices=JOB_STATUSES),
        "kind": Filter(equals(Job.kind), max_length=40),
    },
    columns=cells(
        "id",
        "kind",
        "status",
        "done",
        "total",
        "message",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "error",
    ),
)


def job_list(store: Store, query: ListQuery) -> Found:
    from kaitiaki.jobs.view import view_of

    return sql_list(store, select(Job), query, lambda row: job_out(view_of(row[0])))


EXCHANGES = ListSpec(
    name="exchanges",
    sorts={
        "name": Exchange.name,
        "api": Exchange.api,
        "hash_set": Exchange.hash_set,
        "enabled": Exchange.enabled,
        "last_fetch": Exchange.last_fetch_finished,
        "status": Exchange.last_fetch_status,
    },
    default_sort="name",
    tiebreak=Exchange.id,
    filters={
        "q": Filter(contains(Exchange.name, Exchange.hash_set)),
        "api": Filter(equals(Exchange.api), max_length=40),
        "enabled": Filter(
            lambda query, value: query.where(Exchange.enabled.is_(value == "yes")), choices=YES_NO
        ),
    },
    columns=cells(
        "name",
        "api",
        "hash_set",
        "enabled",
        "items",
        "last_fetch_started",
        "last_fetch_finished",
        "last_fetch_status",
        "last_fetch_items",
        "schedule",
        "next_fetch_at",
        "last_error",
        "created_by",
        "created_at",
    ),
)


def exchange_list(store: Store, query: ListQuery) -> Found:
    from kaitiaki.exchanges.manage import page_exchanges
    from kaitiaki.web.api.exchanges import exchange_out

    def read(offset: int, limit: int | None) -> tuple[int, list[Any]]:
        total, found = page_exchanges(store, shape=query.shape, offset=offset, limit=limit)
        return total, [exchange_out(v) for v in found]

    return domain_list(query, read)
