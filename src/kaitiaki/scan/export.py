"""Export an evidence item's results: CSV, JSON Lines, VICS v2.0 and the manifest.

Rows carry hashes and records, never content. Everything streams from the store; an image's
PDQ is HMA's reference hash, read back from the evidence (``kaitiaki.exports.pdq``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from kaitiaki.exports import csvcells
from kaitiaki.exports.pdq import OutgoingPdq
from kaitiaki.scan.manifest import manifest_lines
from kaitiaki.scan.summary import evidence_id
from kaitiaki.scan.vics_export import export_vics_results
from kaitiaki.store import Store
from kaitiaki.store.models import Classification, File, FileInstance, HashSet, HashSetEntry

COLUMNS = (
    "path",
    "sha256",
    "md5",
    "sha1",
    "size",
    "type",
    "classification",
    "category",
    "hash_set",
    "media_id",
    "signal",
    "distance",
    "series",
    "victim_identified",
    "pdq",
    "pdq_quality",
    "error",
    "notes",
)
FORMATS = ("csv", "jsonl", "vics", "manifest")
log = logging.getLogger(__name__)


def result_rows(
    store: Store, evidence: str, pdq: OutgoingPdq | None = None
) -> Iterator[dict[str, Any]]:
    """One row per file instance, in path order."""
    outgoing = pdq or OutgoingPdq(store)
    eid = evidence_id(store, evidence)
    label = Classification
    query = (
        select(
            FileInstance.path,
            FileInstance.sha256,
            File.md5,
            File.sha1,
            FileInstance.size,
            File.kind,
            label.label,
            label.category,
            HashSet.name,
            HashSetEntry.media_id,
            label.signal,
            label.distance,
            label.series,
            label.victim_identified,
            File.pdq,
            File.pdq_quality,
            FileInstance.error,
            File.error,
            FileInstance.notes,
        )
        .select_from(FileInstance)
        .outerjoin(File, File.sha256 == FileInstance.sha256)
        .outerjoin(label, (label.sha256 == FileInstance.sha256) & (label.evidence_id == eid))
        .outerjoin(HashSet, HashSet.id == label.hash_set_id)
        .outerjoin(HashSetEntry, HashSetEntry.id == label.entry_id)
        .where(FileInstance.evidence_id == eid)
        .order_by(FileInstance.id)
        .execution_options(yield_per=5000)
    )
    with store.session() as session:
        for row in session.execute(query):
            values = list(row)
            instance_error, file_error = values[16], values[17]
            out = dict(zip(COLUMNS[:16], values[:16], strict=True))
            out["classification"] = out["classification"] or "error"
            out["error"] = instance_error or file_error
            out["notes"] = values[18]
            if out["sha256"] is not None:
                sent = outgoing(out["sha256"], out["pdq"])
                out["pdq"], out["pdq_quality"] = sent.pdq, sent.quality
            yield out


def write_csv(rows: Iterator[dict[str, Any]], out: TextIO) -> int:
    # Paths and notes come from seized media: no cell may run as a spreadsheet formula.
    writer = csvcells.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def write_jsonl(rows: Iterator[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
        count += 1
    return count


def export(store: Store, evidence: str, fmt: str, path: Path) -> int:
    """Write the evidence item's results to ``path``; returns the number of records written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    pdq = OutgoingPdq(store)
    try:
        if fmt == "vics":
            return export_vics_results(store, evidence, path, pdq)
        with path.open("w", encoding="utf-8", newline="") as out:
            if fmt == "csv":
                return write_csv(result_rows(store, evidence, pdq), out)
            if fmt == "jsonl":
                return write_jsonl(result_rows(store, evidence, pdq), out)
            count = 0
            for line in manifest_lines(store, evidence_id(store, evidence)):
                out.write(line)
                count += 1
            return count
    finally:
        if pdq.unavailable:
            # A PDQ is only exported as HMA computes it; without the evidence there is none.
            log.warning(
                "%d images' PDQ left out of %s: their evidence is not readable here",
                pdq.unavailable,
                path,
            )
