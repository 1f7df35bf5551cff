"""Partners' enrichment CSV: risk indicators per subject, in the spirit of KIRAT's risk factors.

Columns: ``subject_id``, any of the indicators (yes/no/true/false/1/0; empty means not
reported), optional ``notes``. The file is checked whole before anything is written: one bad
row rejects it, naming the row and the reason, and the store is left as it was.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from kaitiaki.audit import record
from kaitiaki.priority.factors import INDICATORS
from kaitiaki.records.partner import PartnerCsvError, read_partner_csv
from kaitiaki.store import Store
from kaitiaki.store.models import Enrichment, Subject, utcnow

_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n"}
COLUMNS = ("subject_id", *INDICATORS, "notes")


class EnrichmentError(ValueError):
    """An enrichment file that cannot be imported; names the file, row and reason."""


@dataclass(frozen=True, slots=True)
class EnrichmentResult:
    rows: int
    values: int


def _parse(path: Path) -> list[tuple[str, str, dict[str, str]]]:
    try:
        rows = read_partner_csv(path, key="subject_id", known=COLUMNS)
    except PartnerCsvError as exc:
        raise EnrichmentError(str(exc)) from exc
    parsed = []
    for where, row in rows:
        subject = row["subject_id"]
        if not subject:
            raise EnrichmentError(f"{where}: empty subject_id")
        values: dict[str, str] = {}
        for name in INDICATORS:
            cell = row.get(name, "").lower()
            if not cell:
                continue
            if cell not in _YES | _NO:
                raise EnrichmentError(
                    f"{where}: {name} = {row[name]!r} is not one of yes/no/true/false/1/0"
                )
            values[name] = "yes" if cell in _YES else "no"
        if row.get("notes"):
            values["notes"] = row["notes"]
        parsed.append((where, subject, values))
    return parsed


def import_enrichment(
    store: Store, path: Path, *, actor: str, source: str | None = None
) -> EnrichmentResult:
    """Import the file all-or-nothing; a later value for a subject's indicator replaces it.

    One audit entry names the file (with its SHA-256) and the subjects it touched: the scores
    these values feed decide who is referred first, so where they came from must be on record."""
    parsed = _parse(path)
    source = source or path.name
    written = 0
    with store.session() as session:
        known = set(session.scalars(select(Subject.id)))
        for where, subject, _ in parsed:
            if subject not in known:
                raise EnrichmentError(f"{where}: unknown subject {subject!r}")
        existing = {
            (e.subject_id, e.indicator): e
            for e in session.scalars(
                select(Enrichment).where(Enrichment.subject_id.in_({s for _, s, _ in parsed}))
            )
        }
        now = utcnow()
        for _, subject, values in parsed:
            for indicator, value in values.items():
                row = existing.get((subject, indicator))
                if row is None:
                    row = Enrichment(subject_id=subject, indicator=indicator)
                    existing[(subject, indicator)] = row
                    session.add(row)
                row.value, row.source, row.imported_at = value, source, now
                written += 1
        record(
            session,
            actor=actor,
            action="enrichment.imported",
            target_type="file",
            target_id=source,
            details={
                "sha256": _sha256(path),
                "rows": len(parsed),
                "values": written,
                "subjects": sorted({s for _, s, _ in parsed}),
            },
        )
    return EnrichmentResult(len(parsed), written)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
