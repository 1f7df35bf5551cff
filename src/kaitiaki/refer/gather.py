"""What a referral package says about each subject, gathered from the store and the workspace.

Accounts and identifiers, IP capture events, flagged files as hashes (with series and
victim-identified flags where an exact hash-set entry has them), priority and its reasons,
attribution and its evidence, and the chain of custody. Never content: hashes and records only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from kaitiaki import __version__
from kaitiaki.records import ingested_files, read_manifest
from kaitiaki.refer import render
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Account,
    AccountLink,
    Evidence,
    HashSet,
    HashSetEntry,
    Priority,
    Subject,
)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc


@dataclass
class SubjectData:
    """What the workspace knows, cut down to the subjects being referred."""

    events: list[dict[str, Any]] = field(default_factory=list)
    flagged: dict[str, dict[str, Any]] = field(default_factory=dict)
    identifiers: dict[str, dict[str, set[str]]] = field(default_factory=dict)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes that were stored as UTC.
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _read(paths: Sequence[Path], columns: list[str], where: pc.Expression) -> pa.Table:
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not paths:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return ds.dataset([str(p) for p in paths], format="parquet").to_table(
        columns=columns, filter=where
    )


def workspace_data(store: Store, workspace: Path, accounts: set[str]) -> SubjectData:
    # Here, not at the top: pyarrow.dataset loads pandas, which the web server never needs.
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    data = SubjectData()
    flagged_table = pq.read_table(workspace / "flagged_objects.parquet")
    flagged_ids = pa.array(sorted(set(flagged_table.column("object_id").to_pylist())), pa.string())
    account_ids = pa.array(sorted(accounts), pa.string())
    events = _read(
        ingested_files(workspace, "records"),
        ["timestamp", "account_id", "action", "object_id", "ip", "port"],
        pc.field("account_id").isin(account_ids) & pc.field("object_id").isin(flagged_ids),
    )
    data.events = sorted(
        events.to_pylist(), key=lambda r: (r["timestamp"], r["account_id"], r["object_id"])
    )
    touched = pa.array(sorted({e["object_id"] for e in data.events}), pa.string())
    catalog = {
        r["object_id"]: r
        for r in _read(
            ingested_files(workspace, "catalog"),
            ["object_id", "md5", "sha1", "sha256", "pdq"],
            pc.field("object_id").isin(touched),
        ).to_pylist()
    }
    for row in flagged_table.filter(pc.field("object_id").isin(touched)).to_pylist():
        # One row per object: the first (best) match flag_catalog wrote.
        if row["object_id"] not in data.flagged:
            data.flagged[row["object_id"]] = {
                **{"md5": None, "sha1": None, "sha256": None, "pdq": None},
                **{k: v for k, v in catalog.get(row["object_id"], {}).items() if k != "object_id"},
                "object_id": row["object_id"],
                "category": row["category"],
                "hash_set": row["hash_set"],
                "signal": row["signal"],
                "distance": row["distance"],
                "series": None,
                "victim_identified": None,
            }
    _add_series(store, data.flagged)
    people = _read(
        ingested_files(workspace, "accounts"),
        ["account_id", "username", "email", "phone", "device_id"],
        pc.field("account_id").isin(account_ids),
    )
    for row in people.to_pylist():
        slot = data.identifiers.setdefault(row["account_id"], defaultdict(set))
        for column in ("username", "email", "phone", "device_id"):
            if row[column]:
                slot[column].add(row[column])
    return data


def _add_series(store: Store, flagged: dict[str, dict[str, Any]]) -> None:
    """Series and victim-identified from the matched hash-set entry (exact matches only)."""
    by_hash: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in flagged.values():
        signal = item["signal"]
        if signal in ("md5", "sha1", "sha256") and item.get(signal):
            by_hash[(item["hash_set"], signal, str(item[signal]).lower())] = item
    with store.session() as session:
        for signal in ("md5", "sha1", "sha256"):
            wanted = sorted({value for (_, kind, value) in by_hash if kind == signal})
            column = getattr(HashSetEntry, signal)
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = session.execute(
                    # Entries are stored lower-case (hashsets.entry), so the index is used.
                    select(
                        HashSet.name, column, HashSetEntry.series, HashSetEntry.victim_identified
                    )
                    .join(HashSet, HashSet.id == HashSetEntry.hash_set_id)
                    .where(column.in_(chunk))
                )
                for name, value, series, victim in rows:
                    found = by_hash.get((name, signal, value))
                    if found is not None:
                        found["series"], found["victim_identified"] = series, victim


def _members(session: Any, subject_id: str) -> tuple[list[Account], list[dict[str, str]]]:
    """The subject's flagged accounts, plus the accounts and kept links that joined them."""
    rows = list(session.scalars(select(Account).where(Account.subject_id == subject_id)))
    ids = {a.account_id for a in rows}
    links: dict[tuple[str, str, str], dict[str, str]] = {}
    frontier = set(ids)
    while frontier:  # Closure over links: linked accounts need not have touched flagged files.
        found = session.scalars(
            select(AccountLink).where(
                AccountLink.rejected.is_(False),
                AccountLink.account_a.in_(frontier) | AccountLink.account_b.in_(frontier),
            )
        )
        frontier = set()
        for link in found:
            links[(link.account_a, link.account_b, link.reason)] = {
                "account_a": link.account_a,
                "account_b": link.account_b,
                "reason": link.reason,
            }
            frontier |= {link.account_a, link.account_b} - ids
        ids |= frontier
    for account_id in sorted(ids - {a.account_id for a in rows}):
        rows.append(
            Account(
                account_id=account_id,
                platform="provider",
                flagged_files=0,
                uploads=0,
                downloads=0,
                views=0,
                shares=0,
            )
        )
    return rows, sorted(links.values(), key=lambda x: (x["account_a"], x["account_b"]))


def _priority(row: Priority | None) -> dict[str, Any]:
    if row is None:
        return {
            "status": "not prioritised",
            "score": None,
            "tier": None,
            "factors": [],
            "override_tier": None,
            "override_reason": None,
        }
    return {
        "status": "prioritised",
        "score": row.score,
        "tier": row.override_tier or row.tier,
        "factors": list(row.factors or []),
        "override_tier": row.override_tier,
        "override_reason": row.override_reason,
    }


def subject_doc(session: Any, subject: Subject, data: SubjectData) -> dict[str, Any]:
    accounts, links = _members(session, subject.id)
    ids = {a.account_id for a in accounts}
    zone = render.zone_for(subject.country)
    events = [e for e in data.events if e["account_id"] in ids]
    capture = []
    for e in events:
        utc, local, zone_name = render.times(e["timestamp"], zone)
        e.update(subject_id=subject.id, utc=utc, local_time=local, local_zone=zone_name)
        if e["ip"]:
            capture.append(
                {
                    k: e[k]
                    for k in (
                        "ip",
                        "port",
                        "account_id",
                        "action",
                        "utc",
                        "local_time",
                        "local_zone",
                    )
                }
            )
    touched = sorted({e["object_id"] for e in events})
    flagged = [data.flagged[o] for o in touched if o in data.flagged]
    actions = Counter(e["action"] for e in events)
    return {
        "subject_id": subject.id,
        "attribution": {
            "country": subject.country,
            "confidence": float(subject.confidence or 0.0),
            "vpn_or_hosting": bool(subject.vpn_or_hosting),
            "multi_country": bool(subject.multi_country),
            "countries": dict(subject.countries or {}),
            "reason": subject.reason,
            "evidence": [
                {"ip": ev[0], "country": ev[1], "events": ev[2], "first": ev[3], "last": ev[4]}
                for ev in subject.evidence or []
            ],
        },
        "priority": _priority(session.get(Priority, subject.id)),
        "accounts": [
            {
                "platform": a.platform,
                "account_id": a.account_id,
                **{
                    f"{k}s": sorted(data.identifiers.get(a.account_id, {}).get(k, set()))
                    for k in ("username", "email", "phone")
                },
                "device_ids": sorted(
                    data.identifiers.get(a.account_id, {}).get("device_id", set())
                ),
                "flagged_files": a.flagged_files,
                "first_seen": _iso(a.first_seen),
                "last_seen": _iso(a.last_seen),
            }
            for a in sorted(accounts, key=lambda a: a.account_id)
        ],
        "links": links,
        "counts": {
            "accounts": len(accounts),
            "flagged_files": len(flagged),
            "events": len(events),
            "ip_capture_events": len(capture),
            **{a: actions.get(a, 0) for a in ("upload", "download", "view", "share")},
            "by_category": dict(sorted(Counter(str(f["category"]) for f in flagged).items())),
        },
        "ip_capture_events": capture,
        "flagged_files": flagged,
    }


def custody(session: Any, workspace: Path, built_by: str, built_at: str) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "kind": m.kind,
                "source": m.source,
                "sha256": m.sha256,
                "size": m.size,
                "rows": m.written,
                "ingested_at": m.ingested_at,
            }
            for m in read_manifest(workspace)
        ],
        "hash_sets": [
            {
                "name": h.name,
                "source": h.source,
                "source_sha256": h.source_sha256,
                "format": h.source_format,
                "entries": h.entry_count,
                "imported_at": _iso(h.imported_at),
                "profile": h.profile,
            }
            for h in session.scalars(select(HashSet).order_by(HashSet.name))
        ],
        "evidence": [
            {"name": e.name, "acquired_by": e.acquired_by, "manifest_sha256": e.manifest_sha256}
            for e in session.scalars(select(Evidence).order_by(Evidence.name))
        ],
        "tool": "kaitiaki",
        "tool_version": __version__,
        "built_by": built_by,
        "built_at": built_at,
    }
