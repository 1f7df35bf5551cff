"""Plain-Python answers to the engine's queries, and Arrow tables to feed it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

EVENTS_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("account_id", pa.string()),
        ("action", pa.string()),
        ("object_id", pa.string()),
        ("ip", pa.string()),
        ("port", pa.int32()),
    ]
)


@dataclass(frozen=True)
class Event:
    timestamp: datetime
    account_id: str
    action: str
    object_id: str
    ip: str | None = None
    port: int | None = None


def events_table(events: Iterable[Event]) -> pa.Table:
    rows = [vars(e) for e in events]
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)


def flagged_table(rows: Iterable[tuple[str, int | None, str]]) -> pa.Table:
    object_ids, categories, sets = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {
            "object_id": pa.array(object_ids, pa.string()),
            "category": pa.array(categories, pa.int32()),
            "hash_set": pa.array(sets, pa.string()),
        }
    )


def geo_table(rows: Iterable[tuple[str, str | None]]) -> pa.Table:
    ips, countries = zip(*rows, strict=True) if rows else ((), ())
    return pa.table({"ip": pa.array(ips, pa.string()), "country": pa.array(countries, pa.string())})


def flagged_accounts(
    events: list[Event],
    flagged: list[tuple[str, int | None, str]],
    geo: list[tuple[str, str | None]],
) -> list[dict[str, Any]]:
    """What flagged_accounts.sql must answer, computed the obvious way."""
    categories: dict[str, set[str]] = defaultdict(set)
    for object_id, category, _ in flagged:
        categories[object_id]  # flagged even without a category
        if category is not None:
            categories[object_id].add(str(category))
    countries: dict[str, set[str]] = defaultdict(set)
    for ip, country in geo:
        if country:
            countries[ip].add(country)
    per: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.object_id in categories:
            per[event.account_id].append(event)
    out = []
    for account in sorted(per):
        mine = per[account]
        ips = {e.ip for e in mine if e.ip is not None}
        country = set().union(*(countries[ip] for ip in ips))
        category = set().union(*(categories[e.object_id] for e in mine))
        out.append(
            {
                "account_id": account,
                "flagged_files": len({e.object_id for e in mine}),
                "uploads": sum(e.action == "upload" for e in mine),
                "downloads": sum(e.action == "download" for e in mine),
                "views": sum(e.action == "view" for e in mine),
                "shares": sum(e.action == "share" for e in mine),
                "first_seen": min(e.timestamp for e in mine),
                "last_seen": max(e.timestamp for e in mine),
                "ips": len(ips),
                "countries": ";".join(sorted(country)) or None,
                "categories": ";".join(sorted(category)) or None,
            }
        )
    return out
