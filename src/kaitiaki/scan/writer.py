"""Writing scan results: one transaction per batch, idempotent on every table.

A batch always holds whole units of work: a top-level file and all its archive members, or
whole files of a disk image with theirs. A scan killed at any moment leaves each such file
either fully recorded or not at all (a disk image's own record is written after all its files,
see ``scan.plan``); inserts ignore rows that already exist, so overlapping roots or a re-run
never duplicate anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kaitiaki.match import Classified, MatchHit, classify
from kaitiaki.scan.hasher import FileRecord
from kaitiaki.store.models import Classification, File, FileInstance, Match


def _insert(
    session: Session, table: Any, rows: Sequence[dict[str, Any]], update: Sequence[str] = ()
) -> None:
    """INSERT ... ON CONFLICT: ignore, or update ``update`` columns (the row's primary key)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    if update:
        keys = [c.name for c in table.primary_key.columns]
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={c: statement.excluded[c] for c in update}
        )
    else:
        statement = statement.on_conflict_do_nothing()
    session.execute(statement, list(rows))


def write_batch(
    session: Session,
    evidence_id: int,
    records: Sequence[FileRecord],
    hits: Sequence[Sequence[MatchHit]],
    *,
    viewed_by_provider: bool | None = None,
) -> None:
    """Record ``records`` and their matches. ``viewed_by_provider`` is what new instances get
    (False while a provider's viewed list is applied after the scan, see
    ``scan.provider_views``; instances already recorded keep theirs)."""
    files: dict[str, dict[str, Any]] = {}
    matches: dict[tuple[str, int, str], dict[str, Any]] = {}
    labels: dict[str, dict[str, Any]] = {}
    instances: list[dict[str, Any]] = []
    for record, record_hits in zip(records, hits, strict=True):
        instances.append(
            {
                "evidence_id": evidence_id,
                "path": record.path,
                "source": record.source,
                "sha256": record.sha256,
                "size": record.size,
                "depth": record.depth,
                "error": None if record.sha256 else record.error,
                "notes": "; ".join(record.notes) or None,
                "deleted": record.deleted,
                "fs_metadata": record.fs_metadata,
                "modified_at": record.modified_at,
                "accessed_at": record.accessed_at,
                "changed_at": record.changed_at,
                "created_on_fs_at": record.created_on_fs_at,
                "viewed_by_provider": viewed_by_provider,
            }
        )
        if not record.sha256:
            continue
        files[record.sha256] = {
            "sha256": record.sha256,
            "md5": record.md5,
            "sha1": record.sha1,
            "size": record.size,
            "kind": record.kind,
            "mime": record.mime,
            "pdq": record.pdq,
            "pdq_quality": record.pdq_quality,
            "pdq_dihedral": " ".join(record.pdq_dihedral) if record.pdq_dihedral else None,
            "vpdq": record.vpdq,
            "exif": record.exif,
            "error": record.error,
        }
        if record.fs_metadata:
            continue  # the file system's own file: recorded, never matched nor classified
        for hit in record_hits:
            matches[(record.sha256, hit.entry_id, hit.signal)] = {
                "sha256": record.sha256,
                "entry_id": hit.entry_id,
                "signal": hit.signal,
                "distance": hit.distance,
            }
        verdict = classify(record_hits, record.error)
        labels[record.sha256] = label_row(evidence_id, record.sha256, verdict)
    _insert(session, File.__table__, list(files.values()))
    _insert(session, FileInstance.__table__, instances)
    write_matches(session, list(matches.values()))
    write_labels(session, list(labels.values()))


def label_row(evidence_id: int, sha256: str, verdict: Classified) -> dict[str, Any]:
    """A file's classification row in one evidence item, from its verdict."""
    best = verdict.best
    return {
        "evidence_id": evidence_id,
        "sha256": sha256,
        "label": verdict.label.value,
        "category": best.category if best else None,
        "hash_set_id": best.hash_set_id if best else None,
        "entry_id": best.entry_id if best else None,
        "signal": best.signal if best else None,
        "distance": best.distance if best else None,
        "series": best.series if best else None,
        "victim_identified": best.victim_identified if best else None,
    }


def write_matches(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Match rows; one already recorded (``uq_match``) is left as it is."""
    _insert(session, Match.__table__, rows)


def write_labels(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Classification rows, replacing the label a file had in its evidence item."""
    _insert(session, Classification.__table__, rows, update=LABEL_COLUMNS)


LABEL_COLUMNS = (
    "label",
    "category",
    "hash_set_id",
    "entry_id",
    "signal",
    "distance",
    "series",
    "victim_identified",
)
