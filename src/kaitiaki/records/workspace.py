"""The records part of a workspace: Parquet per input, a manifest that commits them, a lock.

```
workspace/records/
  ingested.json                       the manifest: the only list readers trust
  events/<sha256>-<options>.parquet   accepted access records of one input
  accounts/... catalog/...            the same for account and catalog files
  rejects/<kind>-<sha256>-<options>.parquet   (row, reason) of one input
  rejects.csv                         the last run's rejects, file by file
  tmp/                                staging and DuckDB's spill files; empty between runs
```

An ingest writes everything under tmp/ first, then moves the files into place and replaces the
manifest in one rename: a run that fails, or is killed, leaves the manifest as it was, and files
the manifest does not name are swept away by the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from kaitiaki.records.mapping import Kind
from kaitiaki.records.sources import IngestError

MANIFEST_VERSION = 1
DATA_DIRS: dict[Kind, str] = {"records": "events", "accounts": "accounts", "catalog": "catalog"}


@dataclass(frozen=True)
class ManifestEntry:
    """One ingested input."""

    kind: Kind
    sha256: str
    options: str  # digest of the mapping and time-zone choice the input was read with
    source: str  # the path as given when it was ingested
    format: str
    size: int
    rows_read: int
    accepted: int
    rejected: int
    duplicates: int
    written: int
    data: str  # relative to records/
    rejects: str | None  # relative to records/; None when nothing was rejected
    ingested_at: str  # UTC, ISO 8601
    assume_tz: str | None = None


def records_dir(workspace: Path) -> Path:
    return workspace / "records"


def read_manifest(workspace: Path) -> list[ManifestEntry]:
    path = records_dir(workspace) / "ingested.json"
    if not path.exists():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("version") != MANIFEST_VERSION:
        raise ValueError(f"{path}: manifest version {doc.get('version')!r} is not supported")
    return [ManifestEntry(**entry) for entry in doc["inputs"]]


def write_manifest(workspace: Path, entries: list[ManifestEntry]) -> None:
    """Replace the manifest atomically: the commit point of an ingest."""
    path = records_dir(workspace) / "ingested.json"
    tmp = path.with_name(f".ingested-{uuid.uuid4().hex}.json")
    doc = {"version": MANIFEST_VERSION, "inputs": [asdict(e) for e in entries]}
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def ingested_files(workspace: Path, kind: Kind = "records") -> list[Path]:
    """The Parquet files of one kind, as committed: what an engine should read."""
    base = records_dir(workspace)
    return [base / e.data for e in read_manifest(workspace) if e.kind == kind]


@contextlib.contextmanager
def locked(workspace: Path) -> Iterator[Path]:
    """Hold the workspace's records lock; yields a fresh staging folder, removed afterwards."""
    base = records_dir(workspace)
    base.mkdir(parents=True, exist_ok=True)
    with (base / ".lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IngestError(f"{base}: another ingest is running in this workspace") from exc
        tmp = base / "tmp"
        # Left by a run that was killed: nothing in tmp/ is committed, so all of it can go.
        shutil.rmtree(tmp, ignore_errors=True)
        staging = tmp / f"staging-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            yield staging
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            fcntl.flock(lock, fcntl.LOCK_UN)


def sweep_unlisted(workspace: Path, entries: list[ManifestEntry]) -> None:
    """Remove data and rejects files the manifest does not name (a crash between renames)."""
    base = records_dir(workspace)
    listed = {e.data for e in entries} | {e.rejects for e in entries if e.rejects}
    for folder in [*DATA_DIRS.values(), "rejects"]:
        for path in (base / folder).glob("*.parquet"):
            if f"{folder}/{path.name}" not in listed:
                path.unlink(missing_ok=True)
