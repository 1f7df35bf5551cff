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

from sqlalchemy.orm import Session

from kaitiaki.match import MatchHit, classify
from kaitiaki.match.results import label_row, write_labels, write_matches
from kaitiaki.signals.record import FileRecord
from kaitiaki.store.models import File, FileInstance
from kaitiaki.store.rows import insert_rows


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
            "pdq_views": record.pdq_views,
            "robust": record.robust,
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
                "view": hit.view,
            }
        verdict = classify(record_hits, record.error)
        labels[record.sha256] = label_row(evidence_id, record.sha256, verdict)
    insert_rows(session, File.__table__, list(files.values()))
    insert_rows(session, FileInstance.__table__, instances)
    write_matches(session, list(matches.values()))
    write_labels(session, list(labels.values()))
