"""Hash sets in the store: import in one transaction, list, enable, remove (export: ``export``).

An import is all or nothing. The set row and its entries are written in one transaction, in
bulk batches; an error that makes the file unreadable (syntax, a missing MD5, a malformed value)
raises ``HashSetFormatError`` naming the file, the position and the reason, and the transaction
rolls back, so nothing half-imported stays behind. A category code the profile does not define
is no such error: it is kept, mapped if the user asked, and reported (``summary``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.hashsets.csvfile import read_csv
from kaitiaki.hashsets.entry import (
    Entry,
    HashSetError,
    HashSetExistsError,
    HashSetFormatError,
    HashSetMissingError,
    Hex64,
    Parsed,
)
from kaitiaki.hashsets.plain import read_plain
from kaitiaki.hashsets.profiles import get_profile, profile_for_vics_region
from kaitiaki.hashsets.source import Progress, SourceFile, text_lines
from kaitiaki.hashsets.summary import ImportSummary, SignalCounts, check_map_syntax, parse_map
from kaitiaki.hashsets.versions import touch
from kaitiaki.hashsets.vics import read_header, read_vics
from kaitiaki.match.retro_trigger import request_retro_match
from kaitiaki.signals import PDQ
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry

ImportFormat = Literal["vics", "list", "csv"]
# A set's PDQ threshold: the signal type's default, at most its largest.
DEFAULT_THRESHOLD = PDQ.threshold
MAX_THRESHOLD = PDQ.max_threshold
# A batch is flushed with one bulk INSERT at BATCH rows or BATCH_BYTES of input, whichever
# comes first: enough to amortise round trips, while the rows held in memory stay a few MB
# however large the file and however big its records (Exifs, MediaFiles) are.
BATCH = 2_000
BATCH_BYTES = 1 << 20
# A Core insert on the table: the ORM's bulk path costs more than the database on big imports.
INSERT_ENTRY = insert(cast(Table, HashSetEntry.__table__))


def detect_format(path: Path) -> ImportFormat:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "vics"
    if suffix in (".csv", ".tsv"):
        return "csv"
    return "list"


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import made: the set's row, the entries read by signal type (``read.line()``
    for the summary line) and what the examiner should know (unmapped codes, ...)."""

    row: HashSet
    read: SignalCounts
    notes: tuple[str, ...]


def import_hash_set(
    store: Store,
    path: Path | str,
    name: str,
    fmt: ImportFormat | None = None,
    profile: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    source: str = "",
    *,
    columns: Mapping[str, str] | None = None,
    hex64: Hex64 | None = None,
    progress: Progress | None = None,
    category_map: Sequence[str] = (),
    notes: list[str] | None = None,
    actor: str,
    allowlist: bool = False,
) -> HashSet:
    """Import ``path`` as the hash set ``name``; return its stored row (``import_file`` also
    returns the counts). What the import has to tell the examiner is appended to ``notes``."""
    done = import_file(
        store,
        path,
        name,
        fmt,
        profile,
        threshold,
        source,
        columns=columns,
        hex64=hex64,
        progress=progress,
        category_map=category_map,
        actor=actor,
        allowlist=allowlist,
    )
    if notes is not None:
        notes.extend(done.notes)
    return done.row


def import_file(
    store: Store,
    path: Path | str,
    name: str,
    fmt: ImportFormat | None = None,
    profile: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    source: str = "",
    *,
    columns: Mapping[str, str] | None = None,
    hex64: Hex64 | None = None,
    progress: Progress | None = None,
    category_map: Sequence[str] = (),
    actor: str,
    allowlist: bool = False,
) -> Imported:
    """Import ``path`` as the hash set ``name``. An ``allowlist`` set cancels other sets'
    matches of the content it lists (``match.controls``).

    ``category_map`` items (``"8=0"``) map codes the profile does not define onto its own.
    ``hex64`` says what a bare 64-hex value of a plain list or CSV hash column is; without it
    such a value is refused (``Hex64UndecidedError``) rather than guessed.

    ``actor`` is who the audit log names; by default the person at the keyboard (``cli:<user>``).

    ``profile`` defaults to what the file implies: a VICS 2.0 ``UK`` header means CAID, other
    VICS files Project VIC US 2.0, plain lists and CSV ``none`` (so categories need a profile).
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in get_args(ImportFormat):
        raise HashSetError(f"unknown import format {fmt!r}; use vics, list or csv")
    if not 0 <= threshold <= MAX_THRESHOLD:
        raise HashSetError(f"PDQ threshold must be 0-{MAX_THRESHOLD}, not {threshold}")
    if profile is not None:
        get_profile(profile)
    category_map = check_map_syntax(
        [category_map] if isinstance(category_map, str) else category_map
    )
    if not name.strip():
        raise HashSetError("a hash set needs a name")
    if not path.is_file():
        raise HashSetError(f"{path}: no such file")
    with store.session() as session:
        if find_hash_set(session, name) is not None:
            raise HashSetExistsError(name)
    with SourceFile(path, progress) as src:
        parsed, profile = open_reader(path, src, fmt, profile, columns, hex64)
        found = get_profile(profile)
        summary = ImportSummary(found, parse_map(category_map, found))
        try:
            with store.session() as session:
                row = _write(session, src, parsed, name, fmt, summary, threshold, source)
                # Set before commit: never a moment when the list's entries count as matches.
                row.allowlist = allowlist
                record(
                    session,
                    actor=actor,
                    action="hashset.imported",
                    target_type="hash_set",
                    target_id=str(row.id),
                    details={
                        "name": name,
                        "format": fmt,
                        "profile": profile,
                        "entries": row.entry_count,
                        "source": source,
                        "source_sha256": row.source_sha256,
                        **summary.details(),
                        **({"allowlist": True} if allowlist else {}),
                    },
                )
                request_retro_match(session, row, actor)
                return Imported(row, summary.signals(), tuple(summary.notes()))
        except IntegrityError:
            # Another import took the name between our check and our commit.
            raise HashSetExistsError(name) from None


def open_reader(
    path: Path,
    src: SourceFile,
    fmt: ImportFormat,
    profile: str | None,
    columns: Mapping[str, str] | None,
    hex64: Hex64 | None,
) -> tuple[Iterator[Parsed], str]:
    if fmt == "vics":
        header = read_header(path)
        return read_vics(path, src, header), profile or profile_for_vics_region(header.region)
    lines = text_lines(src, "utf-16" if src.skip_bom() == "utf-16" else "utf-8")
    if fmt == "csv":
        return read_csv(path, lines, columns, hex64=hex64), profile or "none"
    return read_plain(path, lines, hex64=hex64), profile or "none"


def _write(
    session: Session,
    src: SourceFile,
    parsed: Iterator[Parsed],
    name: str,
    fmt: str,
    summary: ImportSummary,
    threshold: int,
    source: str,
) -> HashSet:
    row = HashSet(
        name=name,
        source=source,
        profile=summary.profile.name,
        pdq_threshold=threshold,
        enabled=True,
        source_format=fmt,
        entry_count=0,
    )
    session.add(row)
    session.flush()
    batch: list[dict[str, Any]] = []
    count = 0
    flushed_at = src.position
    for entry, _where in parsed:
        category, extra = summary.category_of(entry)
        batch.append(entry_row(row.id, entry, category, extra))
        count += 1
        if len(batch) >= BATCH or src.position - flushed_at >= BATCH_BYTES:
            session.execute(INSERT_ENTRY, batch)
            batch.clear()
            flushed_at = src.position
    if batch:
        session.execute(INSERT_ENTRY, batch)
    if count == 0:
        raise HashSetFormatError(src.path, "", "no entries in the file")
    row.entry_count = count
    touch(row)
    row.source_sha256 = src.finish()
    return row


def robust_count(session: Session, set_id: int) -> int:
    """How many of a set's entries carry a robust signature."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(HashSetEntry)
            .where(HashSetEntry.hash_set_id == set_id, HashSetEntry.robust.is_not(None))
        )
        or 0
    )


def entry_row(
    set_id: int, entry: Entry, category: str | None, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "hash_set_id": set_id,
        "media_id": entry.media_id,
        "md5": entry.md5,
        "sha1": entry.sha1,
        "sha256": entry.sha256,
        "pdq": entry.pdq,
        "vpdq": entry.vpdq,
        "robust": entry.robust,
        "photodna": entry.photodna,
        "category": category,
        "series": entry.series,
        "victim_identified": entry.victim_identified,
        "offender_identified": entry.offender_identified,
        "is_distributed": entry.is_distributed,
        "extra": extra or None,
    }


def list_hash_sets(store: Store) -> list[HashSet]:
    with store.session() as session:
        return list(session.scalars(select(HashSet).order_by(HashSet.name)))


def get_hash_set(store: Store, name: str) -> HashSet:
    with store.session() as session:
        found = find_hash_set(session, name)
        if found is None:
            raise HashSetMissingError(name)
        return found


def set_enabled(store: Store, name: str, enabled: bool, *, actor: str) -> HashSet:
    """Match against the set again, or leave it out of matching (kept, audited)."""
    with store.session() as session:
        found = find_hash_set(session, name)
        if found is None:
            raise HashSetMissingError(name)
        was = found.enabled
        found.enabled = enabled
        record(
            session,
            actor=actor,
            action="hashset.enabled" if enabled else "hashset.disabled",
            target_type="hash_set",
            target_id=str(found.id),
            details={"name": name, "was_enabled": was},
        )
        return found


def remove_hash_set(store: Store, name: str, *, actor: str) -> int:
    """Delete the set and its entries (matches go with them); return the entries removed.

    The audit entry keeps what is needed to know later what was removed: the name, where it came
    from, the SHA-256 of the file it was imported from, and how many entries it held."""
    with store.session() as session:
        found = find_hash_set(session, name)
        if found is None:
            raise HashSetMissingError(name)
        # Entries first and explicitly: correct even where foreign keys are not enforced.
        result = session.execute(delete(HashSetEntry).where(HashSetEntry.hash_set_id == found.id))
        removed = int(getattr(result, "rowcount", 0) or 0)
        record(
            session,
            actor=actor,
            action="hashset.removed",
            target_type="hash_set",
            target_id=str(found.id),
            details={
                "name": name,
                "source": found.source,
                "source_sha256": found.source_sha256,
                "entries": removed,
            },
        )
        session.delete(found)
        return removed


def count_entries(store: Store, name: str | None = None) -> int:
    """Entries in one set, or in the whole store."""
    with store.session() as session:
        query = select(func.count()).select_from(HashSetEntry)
        if name is not None:
            found = find_hash_set(session, name)
            if found is None:
                raise HashSetMissingError(name)
            query = query.where(HashSetEntry.hash_set_id == found.id)
        return int(session.scalar(query) or 0)


def find_hash_set(session: Session, name: str) -> HashSet | None:
    return session.scalar(select(HashSet).where(HashSet.name == name))
