"""Retroactive matching of operations' catalogs: a provider's stored objects, by their hashes.

An operation analysis (``operation.analyse``) keeps the provider's catalog, access records and
flagged objects as Parquet in its workspace, and leaves one ``operation.analysed`` audit entry
naming its folder. Those entries are how the operations are found here: the store holds no
other list of them.

A catalog object has digests and at most one PDQ hash, without rotations or quality (as
``Matcher.match_digests`` reads it), so an object meets a new entry by an equal digest or a PDQ
hash within the set's threshold, and is flagged when the hit is pertinent under the set's
profile (``flag_catalog``'s rule). New flags are appended to the workspace's
``flagged_objects.parquet``, one row per object and set, never twice (a second run adds
nothing), and the flagged accounts are counted again from the records by the analysis's own
query (``write_flagged_accounts``), so they read as if the analysis had run with the new
entries.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.index import PdqIndex
from kaitiaki.index.pdq import hex_to_bytes
from kaitiaki.match.matcher import hit_for, keep_strongest
from kaitiaki.match.retro_find import NewEntries
from kaitiaki.match.retro_pdq import query_threads
from kaitiaki.operation.flag import SCHEMA
from kaitiaki.records import ingested_files
from kaitiaki.store.models import AuditEvent, HashSet, HashSetEntry

ANALYSED = "operation.analysed"
FLAGGED = "flagged_objects.parquet"
ACCOUNTS = "flagged_accounts"
BATCH = 50_000
DIGESTS = ("sha256", "sha1", "md5")
# object id -> {entry id -> (signal, distance)}
ObjectHits = dict[str, dict[int, tuple[str, int]]]


@dataclass(frozen=True, slots=True)
class Operation:
    """One analysis's folder; ``current`` when its accounts are the ones in the store (an
    analysis replaces the store's accounts and subjects, so only the latest one's are)."""

    out: Path
    current: bool

    @property
    def workspace(self) -> Path:
        return self.out / "workspace"


@dataclass(frozen=True, slots=True)
class CatalogChange:
    operation: Operation
    objects_matched: int
    # Objects no hash set had flagged in this operation before.
    newly_flagged: tuple[str, ...]
    rows_added: int
    # The recounted flagged accounts (``flagged_accounts.sql``'s columns), None when no object
    # met a pertinent entry (nothing to count again).
    accounts: list[dict[str, Any]] | None
    # The operation's flagged accounts before (its ``flagged_accounts.parquet``).
    accounts_before: frozenset[str]


def operations(session: Session) -> list[Operation]:
    """The analyses whose workspace is still there, the latest first."""
    rows = session.execute(
        select(AuditEvent.target_id)
        .where(AuditEvent.action == ANALYSED)
        .order_by(AuditEvent.id.desc())
    )
    found: list[Operation] = []
    seen: set[str] = set()
    for (target,) in rows:
        first = not seen
        if target in seen:
            continue
        seen.add(target)
        out = Path(target)
        if (out / "workspace" / FLAGGED).is_file():
            found.append(Operation(out, current=first))
    return found


def catalog_flags(
    session: Session, new: NewEntries, pdq: tuple[NDArray[np.int64], NDArray[np.uint8]]
) -> list[tuple[Operation, list[dict[str, Any]] | str]]:
    """Each operation with the flag rows its catalog gains (or why it could not be read)."""
    out: list[tuple[Operation, list[dict[str, Any]] | str]] = []
    for operation in operations(session):
        try:
            hits = match_catalog(session, operation.workspace, new, pdq)
        except Exception as exc:
            # One unreadable workspace must not stop the others, nor the files' matching.
            out.append((operation, f"{operation.out}: {type(exc).__name__}: {exc}"))
            continue
        rows = flag_rows(session, hits)
        if rows:
            out.append((operation, rows))
    return out


def apply_to_workspaces(
    flags: list[tuple[Operation, list[dict[str, Any]] | str]],
) -> tuple[list[CatalogChange], tuple[str, ...]]:
    changes: list[CatalogChange] = []
    errors: list[str] = []
    for operation, rows in flags:
        if isinstance(rows, str):
            errors.append(rows)
            continue
        try:
            changes.append(apply_to_operation(operation, rows))
        except Exception as exc:
            errors.append(f"{operation.out}: {type(exc).__name__}: {exc}")
    return changes, tuple(errors)


def match_catalog(
    session: Session,
    workspace: Path,
    new: NewEntries,
    pdq: tuple[NDArray[np.int64], NDArray[np.uint8]],
) -> ObjectHits:
    """The catalog's objects that meet the new entries (every hit, pertinent or not)."""
    digests = _digests(session, new)
    ids, hashes = pdq
    index = PdqIndex.build(hashes, ids) if len(ids) else None
    files = [str(p) for p in ingested_files(workspace, "catalog")]
    hits: ObjectHits = {}
    if not files:
        return hits
    columns = ["object_id", *DIGESTS, "pdq"]
    for batch in ds.dataset(files, format="parquet").to_batches(columns=columns, batch_size=BATCH):
        objects = batch.column("object_id").to_pylist()
        for signal in DIGESTS:
            wanted = digests[signal]
            if not wanted:
                continue
            values = batch.column(signal).cast(pa.string())
            mask = pc.fill_null(pc.is_in(values, value_set=pa.array(list(wanted))), False)
            for row in np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist():
                for entry_id in wanted[values[row].as_py()]:
                    keep_strongest(hits.setdefault(str(objects[row]), {}), entry_id, signal, 0)
        if index is not None:
            _match_pdq(index, new.threshold, objects, batch.column("pdq").to_pylist(), hits)
    return hits


def flag_rows(session: Session, hits: ObjectHits) -> list[dict[str, Any]]:
    """``flag_catalog``'s rows for the pertinent hits (one per object and entry)."""
    entry_ids = sorted({e for per in hits.values() for e in per})
    entries: dict[int, HashSetEntry] = {}
    for start in range(0, len(entry_ids), 500):
        chunk = entry_ids[start : start + 500]
        entries.update(
            (e.id, e)
            for e in session.scalars(select(HashSetEntry).where(HashSetEntry.id.in_(chunk)))
        )
    sets = {
        s.id: s
        for s in session.scalars(
            select(HashSet).where(HashSet.id.in_({e.hash_set_id for e in entries.values()}))
        )
    }
    rows: list[dict[str, Any]] = []
    for object_id, per in sorted(hits.items()):
        for entry_id, (signal, distance) in sorted(per.items()):
            entry = entries[entry_id]
            hit = hit_for(sets[entry.hash_set_id], entry, signal, distance)
            if hit.pertinent:
                rows.append(
                    {
                        "object_id": object_id,
                        "category": hit.category,
                        "hash_set": hit.hash_set,
                        "signal": hit.signal,
                        "distance": hit.distance,
                        "series": hit.series,
                        "victim_identified": hit.victim_identified,
                    }
                )
    return rows


def apply_to_operation(operation: Operation, rows: list[dict[str, Any]]) -> CatalogChange:
    """Append the rows not already flagged (by object and set) and count the accounts again."""
    workspace = operation.workspace
    with _locked(workspace):
        flagged_path = workspace / FLAGGED
        held = pq.read_table(flagged_path)
        objects = held.column("object_id").to_pylist()
        pairs = set(zip(objects, held.column("hash_set").to_pylist(), strict=True))
        flagged_before = set(objects)
        fresh: list[dict[str, Any]] = []
        for row in rows:
            key = (row["object_id"], row["hash_set"])
            if key not in pairs:
                pairs.add(key)
                fresh.append(row)
        before = _accounts_before(operation.out)
        if fresh:
            added = pa.Table.from_pylist(fresh, schema=SCHEMA)
            _replace_parquet(flagged_path, pa.concat_tables([held.cast(SCHEMA), added]))
        accounts = _recount(operation) if rows else None
    matched = {r["object_id"] for r in rows}
    return CatalogChange(
        operation,
        objects_matched=len(matched),
        newly_flagged=tuple(sorted(matched - flagged_before)),
        rows_added=len(fresh),
        accounts=accounts,
        accounts_before=frozenset(before),
    )


def _digests(session: Session, new: NewEntries) -> dict[str, dict[str, list[int]]]:
    out: dict[str, dict[str, list[int]]] = {s: {} for s in DIGESTS}
    rows = session.execute(
        select(HashSetEntry.id, HashSetEntry.sha256, HashSetEntry.sha1, HashSetEntry.md5).where(
            *new.where()
        )
    )
    for entry_id, *values in rows:
        for signal, value in zip(DIGESTS, values, strict=True):
            if value:
                out[signal].setdefault(str(value), []).append(int(entry_id))
    return out


def _match_pdq(
    index: PdqIndex, threshold: int, objects: list[Any], pdqs: list[Any], hits: ObjectHits
) -> None:
    owners: list[int] = []
    texts: list[str] = []
    for row, value in enumerate(pdqs):
        if value:
            owners.append(row)
            texts.append(str(value))
    if not texts:
        return
    try:
        packed = hex_to_bytes(texts)
    except ValueError:
        # One damaged hash must not hide the rest: decode one by one, leaving it out.
        keep = [i for i, t in enumerate(texts) if _is_pdq(t)]
        owners, texts = [owners[i] for i in keep], [texts[i] for i in keep]
        if not texts:
            return
        packed = hex_to_bytes(texts)
    result = query_threads(index, packed, threshold)
    for q, entry_id, distance in zip(
        result.query.tolist(), result.ids.tolist(), result.distance.tolist(), strict=True
    ):
        owner = str(objects[owners[int(q)]])
        keep_strongest(hits.setdefault(owner, {}), int(entry_id), "pdq", int(distance))


def _is_pdq(text: str) -> bool:
    try:
        hex_to_bytes([text])
    except ValueError:
        return False
    return True


def _accounts_before(out: Path) -> set[str]:
    path = out / f"{ACCOUNTS}.parquet"
    if not path.is_file():
        return set()
    return {str(a) for a in pq.read_table(path, columns=["account_id"]).column(0).to_pylist()}


def _recount(operation: Operation) -> list[dict[str, Any]]:
    """The analysis's flagged-accounts query over the updated flagged objects; its outputs
    replaced (CSV and Parquet) so the folder reads as one analysis."""
    # Imported here: the engines load DuckDB, which retroactive matching of files never needs.
    from kaitiaki.engines import DuckDBEngine, write_flagged_accounts

    workspace = operation.workspace
    events = [str(p) for p in ingested_files(workspace, "records")]
    if not events:
        return []
    ip_geo = workspace / "ip_geo.parquet"
    staging = Path(tempfile.mkdtemp(prefix=".retro-", dir=workspace))
    try:
        engine = DuckDBEngine()
        try:
            write_flagged_accounts(
                engine,
                events,
                str(workspace / FLAGGED),
                str(ip_geo) if ip_geo.is_file() else None,
                staging,
            )
        finally:
            engine.close()
        table = pq.read_table(staging / f"{ACCOUNTS}.parquet")
        for suffix in ("csv", "parquet"):
            (staging / f"{ACCOUNTS}.{suffix}").replace(operation.out / f"{ACCOUNTS}.{suffix}")
        rows: list[dict[str, Any]] = table.to_pylist()
        return rows
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace_parquet(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(f".{path.name}.retro")
    pq.write_table(table, tmp)
    tmp.replace(path)


@contextmanager
def _locked(workspace: Path) -> Iterator[None]:
    # Two retroactive matches (of two sets) rewriting one workspace's flags take turns.
    with (workspace / ".retro.lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
