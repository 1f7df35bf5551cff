"""What a disclosure package says about one account, read from the workspace and the store.

The account's rows of the ingested accounts files (every column the provider gave), every
access-record event of it (the IP log, with ports), the flags on the objects it touched with
their catalog hashes, the CyberTipline reports NCMEC gave an id for about its subject, and, only
when the caller asks, the flagged contents read back from the evidence. Split from
:mod:`kaitiaki.legal.disclosure`, which writes, signs and records the package.
"""

from __future__ import annotations

import mimetypes
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select

from kaitiaki.store import Store
from kaitiaki.store.models import Account, CyberTipReport, FileInstance

# kaitiaki's own provenance columns of every ingested table: not the provider's account data.
PROVENANCE: Final = ("source_sha256", "source_row")
UNREADABLE: Final = {
    404: "the evidence holding this content is not on this server",
    409: "the evidence could not be read back, or no longer matches its SHA-256",
}


class DisclosureError(ValueError):
    """A disclosure that cannot be written as asked; the message says why."""


class DisclosureNotFoundError(DisclosureError):
    """The account is unknown to the workspace and the store."""


def utc_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        # Ingestion and the store keep UTC; a naive value can only be UTC that lost its zone.
        at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # Microseconds only where the record has them: most logs keep whole seconds.
        text: str = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return text.replace(".000000Z", "Z")
    return str(value)


def _plain(value: Any) -> Any:
    """A parquet value as JSON can hold it (timestamps as UTC text)."""
    if isinstance(value, datetime):
        return utc_text(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass
class Gathered:
    subscriber: list[dict[str, Any]]
    events: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    subject_id: str | None


def _subscriber(workspace: Path, account_id: str) -> list[dict[str, Any]]:
    """Every row the ingested accounts files hold for the account, every column of it."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from kaitiaki.records import ingested_files

    rows: list[dict[str, Any]] = []
    # File by file: accounts files ingested at different times may hold different columns.
    for path in ingested_files(workspace, "accounts"):
        table = ds.dataset(str(path), format="parquet").to_table(
            filter=pc.field("account_id") == account_id
        )
        for row in table.to_pylist():
            fields = {k: _plain(v) for k, v in row.items() if k not in PROVENANCE}
            source = {k: _plain(row.get(k)) for k in PROVENANCE if k in row}
            rows.append({"fields": fields, "source": source})
    return rows


def _events(workspace: Path, account_id: str) -> list[dict[str, Any]]:
    """Every access-record event of the account, oldest first, as the IP log shows it."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from kaitiaki.records import ingested_files

    paths = ingested_files(workspace, "records")
    if not paths:
        return []
    table = ds.dataset([str(p) for p in paths], format="parquet").to_table(
        columns=["timestamp", "action", "object_id", "ip", "port"],
        filter=pc.field("account_id") == account_id,
    )
    rows = sorted(
        table.to_pylist(),
        key=lambda r: (r["timestamp"], r["ip"] or "", r["port"] or 0, r["action"], r["object_id"]),
    )
    return [
        {
            "time_utc": utc_text(r["timestamp"]),
            "action": r["action"],
            "object_id": r["object_id"],
            "ip": r["ip"],
            "port": r["port"],
        }
        for r in rows
    ]


def _flagged(workspace: Path, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per flag (object, hash set, category) on an object the account touched."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from kaitiaki.records import ingested_files

    flagged_path = workspace / "flagged_objects.parquet"
    if not flagged_path.is_file():
        raise DisclosureError(f"{flagged_path} is missing: run the operation analysis first")
    touched = Counter(e["object_id"] for e in events)
    wanted = pa.array(sorted(touched), pa.string())
    flags = pq.read_table(flagged_path).filter(pc.field("object_id").isin(wanted)).to_pylist()
    hashes: dict[str, dict[str, str]] = {}
    objects = pa.array(sorted({f["object_id"] for f in flags}), pa.string())
    for path in ingested_files(workspace, "catalog"):
        rows = ds.dataset(str(path), format="parquet").to_table(
            columns=["object_id", "md5", "sha1", "sha256"],
            filter=pc.field("object_id").isin(objects),
        )
        for row in rows.to_pylist():
            slot = hashes.setdefault(row["object_id"], {})
            for column in ("md5", "sha1", "sha256"):
                if row[column]:
                    slot.setdefault(column, str(row[column]).strip().lower())
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for flag in flags:
        key = (flag["object_id"], flag["hash_set"] or "", flag["category"] or "")
        if key in found:  # a set listing the same file twice
            continue
        digests = hashes.get(flag["object_id"], {})
        found[key] = {
            "object_id": flag["object_id"],
            **{c: digests.get(c) for c in ("md5", "sha1", "sha256")},
            "hash_set": flag["hash_set"],
            "category": flag["category"],
            "signal": flag["signal"],
            "events": touched[flag["object_id"]],
            "file": None,
        }
    return [found[k] for k in sorted(found)]


def gather(store: Store, workspace: Path, account_id: str, platform: str) -> Gathered:
    subscriber = _subscriber(workspace, account_id)
    events = _events(workspace, account_id)
    with store.session() as session:
        held = list(
            session.execute(
                select(Account.platform, Account.subject_id).where(Account.account_id == account_id)
            )
        )
        # The platform's own row first; a store that knows the account under one other
        # platform name only (the analysis writes "provider") still names its subject.
        ours = [s for p, s in held if p == platform] or [s for _, s in held]
        subjects = {s for s in ours if s is not None}
        subject_id = subjects.pop() if len(subjects) == 1 else None
        if not (subscriber or events or held):
            raise DisclosureNotFoundError(
                f"account {account_id!r} is in neither the workspace's accounts or records "
                "nor the store: check the id and the workspace"
            )
        reports = []
        if subject_id is not None:
            # Only reports NCMEC gave an id: a draft or a failed submission was never a report.
            query = (
                select(CyberTipReport)
                .where(
                    CyberTipReport.subject_id == subject_id,
                    CyberTipReport.ncmec_report_id.is_not(None),
                )
                .order_by(CyberTipReport.id)
            )
            reports = [
                {
                    "ncmec_report_id": r.ncmec_report_id,
                    "state": r.state,
                    "environment": r.environment,
                    "submitted_at": utc_text(r.submitted_at),
                    "finished_at": utc_text(r.finished_at),
                }
                for r in session.scalars(query)
            ]
    return Gathered(subscriber, events, _flagged(workspace, events), reports, subject_id)


def copy_files(
    store: Store, flagged: list[dict[str, Any]], folder: Path
) -> tuple[int, list[dict[str, str]]]:
    """Read each flagged content from the evidence into ``folder/files``; returns (written,
    [{sha256, reason}] for those no evidence instance could give back)."""
    from kaitiaki.content.kinds import HEADER_SIZE, detect
    from kaitiaki.content.readback import ContentUnavailableError, read_instance

    written: dict[str, str] = {}
    missing: list[dict[str, str]] = []
    for sha in sorted({str(f["sha256"]) for f in flagged if f["sha256"]}):
        with store.session() as session:
            paths = list(
                session.scalars(
                    select(FileInstance.path)
                    .where(FileInstance.sha256 == sha)
                    .order_by(FileInstance.id)
                )
            )
        reason = "no evidence instance holds this content"
        for path in paths:
            try:
                data = read_instance(path, sha)  # checked against the SHA-256 on the way
            except ContentUnavailableError as exc:
                # Said without the evidence path: where the provider keeps evidence is not
                # the recipient's business. Another instance may still be readable.
                reason = UNREADABLE.get(exc.status, UNREADABLE[409])
                continue
            suffix = mimetypes.guess_extension(detect(data[:HEADER_SIZE]).mime) or ".bin"
            name = f"files/{sha}{suffix}"
            (folder / "files").mkdir(exist_ok=True)
            (folder / name).write_bytes(data)
            written[sha] = name
            break
        else:
            missing.append({"sha256": sha, "reason": reason})
    for row in flagged:
        row["file"] = written.get(str(row["sha256"]))
    return len(written), missing
