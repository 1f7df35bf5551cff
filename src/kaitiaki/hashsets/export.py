"""Hash sets out of the store: entries read back in import order, exported streamed.

An export to a path is written through a temporary file beside it and renamed at the end, so a
failed export never leaves a partial file that looks complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, TextIO, get_args

from sqlalchemy import select

from kaitiaki.hashsets.entry import Entry, HashSetError, HashSetMissingError
from kaitiaki.hashsets.plain import export_plain
from kaitiaki.hashsets.profiles import get_profile
from kaitiaki.hashsets.store import BATCH, find_hash_set
from kaitiaki.hashsets.vics import export_vics
from kaitiaki.store import Store
from kaitiaki.store.models import HashSetEntry

ExportFormat = Literal["vics", "list"]


def to_entry(row: HashSetEntry) -> Entry:
    return Entry(
        md5=row.md5,
        sha1=row.sha1,
        sha256=row.sha256,
        pdq=row.pdq,
        vpdq=row.vpdq,
        photodna=row.photodna,
        media_id=row.media_id,
        category=row.category,
        series=row.series,
        victim_identified=row.victim_identified,
        offender_identified=row.offender_identified,
        is_distributed=row.is_distributed,
        extra=dict(row.extra or {}),
    )


def iter_entries(store: Store, name: str, *, chunk: int = BATCH) -> Iterator[Entry]:
    """The entries of a set in import order, fetched ``chunk`` rows at a time."""
    with store.session() as session:
        found = find_hash_set(session, name)
        if found is None:
            raise HashSetMissingError(name)
        query = (
            select(HashSetEntry)
            .where(HashSetEntry.hash_set_id == found.id)
            .order_by(HashSetEntry.id)
            .execution_options(yield_per=chunk)
        )
        for row in session.scalars(query):
            yield to_entry(row)
            session.expunge(row)  # keep the identity map from growing with the set


def export_hash_set(store: Store, name: str, fmt: ExportFormat, out: Path | str | TextIO) -> int:
    """Write the set as VICS 2.0 JSON or a plain list; return the number of entries written.

    A path is written through a temporary file beside it and renamed at the end, so a failed
    export never leaves a partial file that looks complete.
    """
    if fmt not in get_args(ExportFormat):
        raise HashSetError(f"unknown export format {fmt!r}; use vics or list")
    with store.session() as session:
        found = find_hash_set(session, name)
        if found is None:
            raise HashSetMissingError(name)
        region = get_profile(found.profile).vics_region

    def writer(stream: TextIO) -> int:
        if fmt == "vics":
            return export_vics(iter_entries(store, name), stream, region=region)
        return export_plain(iter_entries(store, name), stream, title=f"kaitiaki hash set {name}")

    if not isinstance(out, str | Path):
        return writer(out)
    target = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or None)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            count = writer(stream)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
