"""Signed series updates: a series' identified status the same in every agency's kaitiaki.

When an agency identifies a victim or an offender of a series, it exports a signed update
(``kaitiaki series export --signed``): for each series, whether it is identified, and its
victims and offenders by pseudonymous id with whether each is identified, their country,
responsible agency and (victims) age band. Never images, hashes of material, notes or
descriptions (see ``refer/schema/series-update-v1.json`` for why). The file is a DSSE envelope
(``refer.envelope``) of type ``SERIES_UPDATE_TYPE``.

Another installation imports it: the signature is checked against its trust store (or one
pinned key), the document against its schema version, and the update is applied by the rule in
``series_apply`` (never overwriting a specialist's record; differences listed for a person),
in one transaction with an entry for each change and a ``series_update_files`` row. The same
file imported again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pycountry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.refer.envelope import (
    SERIES_UPDATE_TYPE,
    EnvelopeError,
    open_sealed,
    write_sealed,
)
from kaitiaki.refer.signing import fingerprint_hex
from kaitiaki.refer.versions import SchemaVersionError, load_schema, validate
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Offender, Series, SeriesUpdateFile, Victim
from kaitiaki.triage.series_apply import (
    Applied,
    Difference,
    SeriesUpdateError,
    apply_update,
    checked_series,
    sender_agency,
)
from kaitiaki.users.scope import Jurisdiction, JurisdictionError, parse_jurisdiction

SCHEMA: Final = "series-update-v1.json"
SCHEMA_ID: Final = "https://kaitiaki.example/schema/series-update-v1.json"
CURRENT: Final = "1.0"
TARGET: Final = "series_update"

__all__ = [
    "READ_ERRORS",
    "Applied",
    "Difference",
    "Exported",
    "Imported",
    "ImportedFile",
    "SeriesUpdateError",
    "export_series_update",
    "import_series_update",
    "imported_updates",
]

# Everything reading a received update may raise (the CLI and the web answer each as bad input).
READ_ERRORS: Final = (EnvelopeError, SchemaVersionError, SeriesUpdateError)


@dataclass(frozen=True, slots=True)
class Exported:
    path: Path
    sha256: str
    key_fingerprint: str
    series: int
    victims: int
    offenders: int


@dataclass(frozen=True, slots=True)
class Imported:
    sha256: str
    sender: str
    key_fingerprint: str
    key_source: Literal["trusted", "pinned"]
    schema_version: str
    agency: str  # "CC:Agency" the update says it comes from
    issued_at: datetime
    issued_by: str
    applied: list[Applied]
    differences: list[Difference]
    already_imported: bool = False


@dataclass(frozen=True, slots=True)
class ImportedFile:
    """A past import, as listed (``series_update_files``)."""

    sha256: str
    sender: str
    key_fingerprint: str
    schema_version: str
    imported_by: str
    imported_at: datetime
    applied: int
    differences: list[dict[str, Any]]


def _bound(*path: str) -> int:
    """A bound of the schema (``maxItems``), so the writer refuses what every reader would."""
    node: Any = load_schema(SCHEMA)
    for key in path:
        node = node[key]
    return int(node["maxItems"])


# --- export ----------------------------------------------------------------------------------


def _touched_since(since: datetime) -> Any:
    """Series changed since ``since``: their own row, or an audited change to them, their
    victims or their offenders (victim and offender rows keep no time of change)."""

    def recent(kind: str) -> Any:
        return select(AuditEvent.target_id).where(
            AuditEvent.at >= since, AuditEvent.target_type == kind
        )

    return or_(
        Series.updated_at >= since,
        Series.name.in_(recent("series")),
        Series.id.in_(select(Victim.series_id).where(Victim.id.in_(recent("victim")))),
        Series.id.in_(select(Offender.series_id).where(Offender.id.in_(recent("offender")))),
    )


def _series_rows(
    session: Session, names: Sequence[str] | None, since: datetime | None
) -> list[Series]:
    query = select(Series).order_by(Series.name)
    if names is not None:
        wanted = list(dict.fromkeys(n.strip() for n in names))
        found = set(session.scalars(select(Series.name).where(Series.name.in_(wanted))))
        missing = [n for n in wanted if n not in found]
        if missing:
            raise SeriesUpdateError(f"no series named {missing[0]!r}")
        query = query.where(Series.name.in_(wanted))
    if since is not None:
        moment = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        query = query.where(_touched_since(moment))
    return list(session.scalars(query))


def _series_doc(session: Session, row: Series) -> dict[str, Any]:
    victims = session.scalars(select(Victim).where(Victim.series_id == row.id).order_by(Victim.id))
    offenders = session.scalars(
        select(Offender).where(Offender.series_id == row.id).order_by(Offender.id)
    )
    doc: dict[str, Any] = {
        "name": row.name,
        "identified": row.identified,
        "victims": [
            {
                "id": v.id,
                "identified": v.identified,
                "country": v.country,
                "agency": v.agency,
                "age_band": v.age_band,
            }
            for v in victims
        ],
        "offenders": [
            {"id": o.id, "identified": o.identified, "country": o.country, "agency": o.agency}
            for o in offenders
        ],
    }
    limit = _bound("$defs", "series", "properties", "victims")
    for kind in ("victims", "offenders"):
        if len(doc[kind]) > limit:
            raise SeriesUpdateError(
                f"series {row.name!r} has more than {limit:,} {kind}, more than an update holds"
            )
    return doc


def export_series_update(
    store: Store,
    out: Path,
    *,
    key: Ed25519PrivateKey,
    agency_country: str,
    agency_name: str,
    actor: str,
    series: Sequence[str] | None = None,
    since: datetime | None = None,
) -> Exported:
    """Write the signed update for ``series`` (default: every series; with ``since``, only
    those changed since then) to ``out``, as ``agency``; audited as ``actor``."""
    try:
        agency = parse_jurisdiction(f"{agency_country}:{agency_name}")
    except JurisdictionError as exc:
        raise SeriesUpdateError(str(exc)) from None
    if pycountry.countries.get(alpha_2=agency.country) is None:
        raise SeriesUpdateError(f"agency country {agency_country!r} is not an ISO 3166-1 code")
    written = False
    try:
        with store.session() as session:
            document = _document(session, series, since, agency=agency, actor=actor)
            sha256 = write_sealed(out, document, SERIES_UPDATE_TYPE, key)
            written = True
            docs = document["series"]
            counts = {k: sum(len(d[k]) for d in docs) for k in ("victims", "offenders")}
            record(
                session,
                actor=actor,
                action="series_update.exported",
                target_type=TARGET,
                target_id=sha256,
                details={"file": out.name, "agency": str(agency), "series": len(docs), **counts},
            )
    except BaseException:
        if written:
            out.unlink(missing_ok=True)  # no file goes out unaudited
        raise
    return Exported(
        out,
        sha256,
        fingerprint_hex(key.public_key()),
        len(docs),
        counts["victims"],
        counts["offenders"],
    )


def _document(
    session: Session,
    series: Sequence[str] | None,
    since: datetime | None,
    *,
    agency: Jurisdiction,
    actor: str,
) -> dict[str, Any]:
    docs = [_series_doc(session, row) for row in _series_rows(session, series, since)]
    if not docs:
        raise SeriesUpdateError("no series to export" + (" changed since then" if since else ""))
    limit = _bound("properties", "series")
    if len(docs) > limit:
        raise SeriesUpdateError(
            f"{len(docs):,} series, more than an update holds ({limit:,}): "
            "export them in parts (--series or --since)"
        )
    document = {
        "$schema": SCHEMA_ID,
        "schema_version": CURRENT,
        "issued_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "issued_by": actor,
        "agency": {"country": agency.country, "name": agency.agency},
        "series": docs,
    }
    try:
        # What we send is what every reader accepts: a series name with a control character,
        # say, is refused here rather than by the partner.
        validate(document, SCHEMA, CURRENT, what="series update")
    except SchemaVersionError as exc:
        raise SeriesUpdateError(f"cannot export: {exc}") from None
    return document


# --- import ----------------------------------------------------------------------------------


def import_series_update(
    store: Store, path: Path, *, actor: str, pinned: Path | None = None
) -> Imported:
    """Verify the signed update at ``path`` (against the trust store, or ``pinned``) and apply
    it; raises one of ``READ_ERRORS`` with nothing stored when it cannot be."""
    opened = open_sealed(path, SERIES_UPDATE_TYPE, store=store, pinned=pinned)
    what = str(path)
    major, minor = validate(opened.payload, SCHEMA, CURRENT, what=what)
    payload = opened.payload
    agency = sender_agency(payload, opened.jurisdictions, opened.sender, what)
    series = checked_series(payload, what)
    try:
        issued_at = datetime.fromisoformat(payload["issued_at"])
    except ValueError:
        raise SeriesUpdateError(f"{what}: at issued_at: not a date and time") from None
    version = f"{major}.{minor}"
    base = Imported(
        sha256=opened.sha256,
        sender=opened.sender,
        key_fingerprint=opened.key_fingerprint,
        key_source=opened.key_source,
        schema_version=version,
        agency=agency,
        issued_at=issued_at,
        issued_by=payload["issued_by"],
        applied=[],
        differences=[],
    )
    try:
        with store.session() as session:
            if session.scalar(
                select(SeriesUpdateFile.id).where(SeriesUpdateFile.sha256 == opened.sha256)
            ):
                return replace(base, already_imported=True)
            # The file's row first: a second import of it at the same moment fails here.
            row = SeriesUpdateFile(
                sha256=opened.sha256,
                sender=opened.sender,
                key_fingerprint=opened.key_fingerprint,
                schema_version=version,
                imported_by=actor,
            )
            session.add(row)
            session.flush()
            applied, differences = apply_update(
                session,
                series,
                by=actor,
                reason=f"signed series update from {opened.sender} ({agency})",
                source=opened.sha256,
            )
            row.applied = [a.as_dict() for a in applied]
            row.differences = [d.as_dict() for d in differences]
            record(
                session,
                actor=actor,
                action="series_update.imported",
                target_type=TARGET,
                target_id=opened.sha256,
                details={
                    "sender": opened.sender,
                    "key_fingerprint": opened.key_fingerprint,
                    "agency": agency,
                    "issued_at": payload["issued_at"],
                    "issued_by": payload["issued_by"],
                    "schema_version": version,
                    "applied": len(applied),
                    "differences": len(differences),
                },
            )
    except IntegrityError:
        raise SeriesUpdateError(
            f"{what}: the same records were changed at the same time by someone else; "
            "nothing was applied, import it again"
        ) from None
    return replace(base, applied=applied, differences=differences)


def imported_updates(store: Store, *, limit: int = 100) -> list[ImportedFile]:
    """The latest imported update files, newest first."""
    with store.session() as session:
        rows = session.scalars(
            select(SeriesUpdateFile)
            .order_by(SeriesUpdateFile.imported_at.desc(), SeriesUpdateFile.id.desc())
            .limit(limit)
        )
        return [
            ImportedFile(
                r.sha256,
                r.sender,
                r.key_fingerprint,
                r.schema_version,
                r.imported_by,
                r.imported_at,
                len(r.applied or []),
                list(r.differences or []),
            )
            for r in rows
        ]
