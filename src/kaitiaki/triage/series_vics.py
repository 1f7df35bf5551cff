"""Series records to and from VICS: hash-set entries' Series / VictimIdentified /
OffenderIdentified fields become Series records and links, and the records go back out as VICS.

The VICS reader and writer are ``kaitiaki.hashsets``'s (they already keep the three fields on
every entry); this module only joins entries to Series records. Importing a set never changes
a specialist's record: a series that exists keeps its status, and where the set's flags say
otherwise the result lists the disagreement for a person to settle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, cast

from sqlalchemy import Table, and_, exists, func, insert, literal, null, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.exports.pdq import OutgoingPdq
from kaitiaki.hashsets import Entry, export_vics
from kaitiaki.hashsets.export import to_entry
from kaitiaki.store import Store
from kaitiaki.store.models import File, HashSet, HashSetEntry, Offender, Series, SeriesLink

SYNC_ACTOR_PREFIX = "sync:"


@dataclass(frozen=True, slots=True)
class Disagreement:
    series: str
    record_identified: bool
    hash_set_says: str  # "identified", "not identified" or "both"


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    linked: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)


def _flags(session: Session, set_id: int | None) -> dict[str, set[bool | None]]:
    query = (
        select(HashSetEntry.series, HashSetEntry.victim_identified)
        .distinct()
        .where(HashSetEntry.series.is_not(None), HashSetEntry.series != "")
    )
    if set_id is not None:
        query = query.where(HashSetEntry.hash_set_id == set_id)
    out: dict[str, set[bool | None]] = defaultdict(set)
    for name, flag in session.execute(query):
        if name and name.strip():
            out[name.strip()].add(flag)
    return out


def sync_series_from_hash_sets(store: Store, hash_set: str | None = None, *, by: str) -> SyncResult:
    """Create a Series for every series name the entries carry (of one set, or all) and link
    each entry to its series. A new series is identified only when every entry of it that
    says anything says VictimIdentified; idempotent: a second run adds nothing."""
    actor = by
    result = SyncResult()
    with store.session() as session:
        set_id: int | None = None
        if hash_set is not None:
            set_id = session.scalar(select(HashSet.id).where(HashSet.name == hash_set))
            if set_id is None:
                raise LookupError(f"no hash set named {hash_set!r}")
        now = datetime.now(UTC)
        existing = {s.name: s for s in session.scalars(select(Series))}
        for name, flags in sorted(_flags(session, set_id).items()):
            said = {f for f in flags if f is not None}
            identified = said == {True}
            if name not in existing:
                session.add(Series(name=name, identified=identified, created_at=now))
                result.created.append(name)
            elif said and existing[name].identified != identified:
                says = (
                    "both"
                    if len(said) > 1
                    else ("identified" if True in said else "not identified")
                )
                result.disagreements.append(Disagreement(name, existing[name].identified, says))
        session.flush()
        result.linked = _link_by_name(session, set_id, actor, now)
        record(
            session,
            actor=actor,
            action="series.synced",
            target_type="hash_set",
            target_id=hash_set or "*",
            details={
                "created": result.created,
                "linked": result.linked,
                "disagreements": [d.series for d in result.disagreements],
            },
        )
    return result


def _link_by_name(session: Session, set_id: int | None, actor: str, now: datetime) -> int:
    """One INSERT ... SELECT: entries join series by name; links that exist are skipped."""
    already = exists().where(
        and_(SeriesLink.entry_id == HashSetEntry.id, SeriesLink.series_id == Series.id)
    )
    source = (
        select(
            Series.id,
            HashSetEntry.id,
            null(),
            literal(actor, type_=SeriesLink.linked_by.type),
            literal(now, type_=SeriesLink.linked_at.type),
        )
        .select_from(HashSetEntry)
        .join(Series, Series.name == HashSetEntry.series)
        .where(~already)
    )
    if set_id is not None:
        source = source.where(HashSetEntry.hash_set_id == set_id)
    statement = insert(cast(Table, SeriesLink.__table__)).from_select(
        ["series_id", "entry_id", "sha256", "linked_by", "linked_at"], source
    )
    # Counted before and after: drivers disagree on rowcount for INSERT ... SELECT (psycopg
    # reports -1).
    count = select(func.count()).select_from(SeriesLink)
    before = int(session.scalar(count) or 0)
    session.execute(statement)
    return int(session.scalar(count) or 0) - before


def _offender_flags(session: Session) -> dict[int, bool]:
    """Per series with offender records: whether any of them is identified."""
    out: dict[int, bool] = {}
    for series_id, identified in session.execute(
        select(Offender.series_id, Offender.identified).where(Offender.series_id.is_not(None))
    ):
        if series_id is not None:
            out[series_id] = out.get(series_id, False) or bool(identified)
    return out


def series_entries(store: Store) -> Iterator[Entry]:
    """Every linked hash-set entry and file as a VICS entry carrying its series' current
    status: Series name, VictimIdentified from the record, OffenderIdentified from the
    series' offender records (the entry's own flag where the series has none)."""
    # A file's PDQ leaves as HMA's reference hash, read back from its evidence.
    outgoing = OutgoingPdq(store)
    with store.session() as session:
        offenders = _offender_flags(session)
        by_entry = (
            select(HashSetEntry, Series)
            .join(SeriesLink, SeriesLink.entry_id == HashSetEntry.id)
            .join(Series, Series.id == SeriesLink.series_id)
            .order_by(Series.name, HashSetEntry.id)
            .execution_options(yield_per=2000)
        )
        for row, series in session.execute(by_entry):
            entry = to_entry(row)
            yield replace(
                entry,
                series=series.name,
                victim_identified=series.identified,
                offender_identified=offenders.get(series.id, entry.offender_identified),
            )
        by_file = (
            select(File, Series)
            .join(SeriesLink, SeriesLink.sha256 == File.sha256)
            .join(Series, Series.id == SeriesLink.series_id)
            .order_by(Series.name, File.sha256)
        )
        for file, series in session.execute(by_file):
            yield Entry(
                md5=file.md5,
                sha1=file.sha1,
                sha256=file.sha256,
                pdq=outgoing(file.sha256, file.pdq).pdq,
                vpdq=file.vpdq,
                series=series.name,
                victim_identified=series.identified,
                offender_identified=offenders.get(series.id),
                extra={"MediaSize": file.size, "MimeType": file.mime},
            )


def export_series_vics(store: Store, out: Path | TextIO, *, region: str = "CUSTOM") -> int:
    """Write the victim-identification state as a VICS 2.0 Media list; return the records."""
    return export_vics(series_entries(store), out, region=region)
