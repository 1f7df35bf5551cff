"""More entries for a hash set that exists: ``kaitiaki hashset add NAME FILE``.

An import makes a new set; a provider's own bank grows instead (this week's confirmed hashes,
a partner's additions), and its matches, thresholds and history stay with the one set. The file
is read exactly as ``hashset import`` reads it (same formats, same errors naming the line),
entirely before anything is written; then, in one transaction, the entries the set does not
already hold are added, the set's version moves (``hashsets.versions``: servers answer from
them within their poll), the file's SHA-256 is recorded in the audit log (chain of custody) and
a retroactive match of the new entries is queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from kaitiaki.audit import record
from kaitiaki.hashsets.derived import add_entries
from kaitiaki.hashsets.entry import Entry, HashSetError, Hex64
from kaitiaki.hashsets.profiles import get_profile
from kaitiaki.hashsets.source import Progress, SourceFile
from kaitiaki.hashsets.store import ImportFormat, detect_format, find_hash_set, open_reader
from kaitiaki.hashsets.summary import ImportSummary, SignalCounts
from kaitiaki.match.retro_trigger import request_retro_match
from kaitiaki.store import Store


@dataclass(frozen=True, slots=True)
class Appended:
    """What ``hashset add`` did: entries read (``signals``: by signal type), entries added."""

    name: str
    read: int
    added: int
    source_sha256: str
    signals: SignalCounts

    @property
    def already_held(self) -> int:
        return self.read - self.added


def append_to_hash_set(
    store: Store,
    name: str,
    path: Path | str,
    fmt: ImportFormat | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    hex64: Hex64 | None = None,
    progress: Progress | None = None,
    actor: str,
) -> Appended:
    """Add the entries of ``path`` that set ``name`` does not hold yet."""
    path = Path(path)
    if not path.is_file():
        raise HashSetError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    with store.session() as session:
        row = find_hash_set(session, name)
        if row is None:
            raise HashSetError(f"no hash set named {name!r}")
        profile = row.profile
    with SourceFile(path, progress) as src:
        parsed, _ = open_reader(path, src, fmt, profile, columns, hex64)
        summary = ImportSummary(get_profile(profile))
        entries: list[Entry] = []
        for entry, _where in parsed:
            category, extra = summary.category_of(entry)
            entries.append(replace(entry, category=category, extra=extra))
        digest = src.finish()
    if not entries:
        raise HashSetError(f"{path}: no entries in the file")
    with store.session() as session:
        row = find_hash_set(session, name)
        if row is None:
            raise HashSetError(f"no hash set named {name!r}")  # removed meanwhile
        added = add_entries(session, row, entries)
        record(
            session,
            actor=actor,
            action="hashset.entries_added",
            target_type="hash_set",
            target_id=str(row.id),
            details={
                "name": name,
                "format": fmt,
                "read": len(entries),
                "added": added,
                "source": path.name,
                "source_sha256": digest,
                **summary.details(),
            },
        )
        if added:
            request_retro_match(session, row, actor)
    return Appended(name, len(entries), added, digest, summary.signals())
