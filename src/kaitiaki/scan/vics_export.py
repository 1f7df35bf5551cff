"""An evidence item's classifications as a VICS v2.0 Media list (hashes and records only).

An image's PDQ is HMA's reference hash, read back from the evidence (``kaitiaki.exports.pdq``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import func, select

from kaitiaki.exports.pdq import OutgoingPdq
from kaitiaki.hashsets import Entry, export_vics, get_profile
from kaitiaki.scan.summary import evidence_id
from kaitiaki.store import Store
from kaitiaki.store.models import Classification, File, FileInstance, HashSet


def _region(store: Store, eid: int) -> str:
    """The VICS region of the profile behind the categories, when they all share one."""
    with store.session() as session:
        profiles = set(
            session.scalars(
                select(HashSet.profile)
                .distinct()
                .join(Classification, Classification.hash_set_id == HashSet.id)
                .where(Classification.evidence_id == eid)
            )
        )
    regions = {get_profile(p).vics_region for p in profiles}
    return regions.pop() if len(regions) == 1 else "CUSTOM"


def result_entries(store: Store, eid: int, pdq: OutgoingPdq | None = None) -> Iterator[Entry]:
    """One entry per unique content of the evidence item, with its first path."""
    outgoing = pdq or OutgoingPdq(store)
    first_path = (
        select(FileInstance.sha256, func.min(FileInstance.path).label("path"))
        .where(FileInstance.evidence_id == eid, FileInstance.sha256.is_not(None))
        .group_by(FileInstance.sha256)
        .subquery()
    )
    query = (
        select(File, Classification, first_path.c.path)
        .join(first_path, first_path.c.sha256 == File.sha256)
        .join(
            Classification,
            (Classification.sha256 == File.sha256) & (Classification.evidence_id == eid),
        )
        .order_by(first_path.c.path)
        .execution_options(yield_per=2000)
    )
    with store.session() as session:
        for number, (file, label, path) in enumerate(session.execute(query), 1):
            extra: dict[str, object] = {
                "RelativeFilePath": path,
                "MediaSize": file.size,
                "MimeType": file.mime,
                "Comments": f"kaitiaki: {label.label}"
                + (f" by {label.signal} at distance {label.distance}" if label.signal else ""),
            }
            yield Entry(
                md5=file.md5,
                sha1=file.sha1,
                sha256=file.sha256,
                pdq=outgoing(file.sha256, file.pdq).pdq,
                media_id=str(number),
                category=label.category,
                series=label.series,
                victim_identified=label.victim_identified,
                vpdq=file.vpdq,
                extra=extra,
            )


def export_vics_results(
    store: Store, evidence: str, path: Path, pdq: OutgoingPdq | None = None
) -> int:
    eid = evidence_id(store, evidence)
    return export_vics(result_entries(store, eid, pdq), path, region=_region(store, eid))
