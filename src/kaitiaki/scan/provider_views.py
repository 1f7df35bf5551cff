"""Which files of a provider's export the provider viewed (``scan --viewed-by-provider FILE``).

A provider knows which of the files it hands over a person there looked at (NCMEC's
``fileViewedByEsp``). Files nobody there viewed may be opened by us only with a legal basis
(``kaitiaki.web.reveal``), so the list decides ``FileInstance.viewed_by_provider``: True for a
listed file, False for every other file of the evidence item, None where no list was given.

The list is UTF-8 text, one entry a line:

* a hash of the file's content: 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits, any case;
* or a path relative to a scanned folder (for a scanned file: to the folder holding it),
  ``/``-separated, archive members as the scan names them (``export.zip!/inner/a.jpg``).
  A name made only of hex digits is written ``./name``, so a mistyped hash is never taken
  for a path.

Blank lines and lines starting with ``#`` are skipped; spaces around an entry are ignored.
Anything else (an absolute path, ``..``, a hex string of another length, control characters,
a line over ``MAX_LINE`` characters, bytes that are not UTF-8) is a ``ViewedListError`` naming
the file and line. The list is read twice, streaming: once before the scan so a bad list fails
before hours of hashing, once to mark, so its size never matters for memory.

While a scan with a list runs, the instances it writes are recorded as not viewed (the safe
side); ``mark_viewed`` then sets the listed ones, in one transaction with its audit entry.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.scan.hasher import display_path
from kaitiaki.store import Store
from kaitiaki.store.models import File, FileInstance

MAX_LINE = 4096
CHUNK = 500
EXAMPLES = 10
_HEX = re.compile(r"[0-9a-fA-F]+")
_HASH_COLUMNS = {32: "md5", 40: "sha1", 64: "sha256"}


class ViewedListError(ValueError):
    """A viewed list that cannot be read or holds a line that is neither a hash nor a path."""


@dataclass(frozen=True)
class Entry:
    line: int
    kind: str  # "md5", "sha1", "sha256" or "path"
    value: str  # lowercase hex, or the relative path as written (without a leading "./")


@dataclass
class ListSummary:
    """What a check of the list found (no store needed)."""

    source: str
    sha256: str  # of the list file's bytes, kept in the audit entry
    entries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class ViewedMarks:
    """What ``mark_viewed`` changed."""

    entries: int
    viewed: int  # instances marked viewed
    not_viewed: int  # instances marked not viewed
    unmatched: int  # entries that named no file of the evidence item
    unmatched_examples: list[str]

    def describe(self) -> str:
        text = (
            f"provider's viewed list: {self.viewed:,} file instance(s) viewed,"
            f" {self.not_viewed:,} not viewed"
        )
        if self.unmatched:
            shown = ", ".join(self.unmatched_examples)
            text += f"; {self.unmatched:,} entr(y/ies) named no file of the evidence ({shown})"
        return text


def _entry(text: str, line: int, source: str) -> Entry | None:
    where = f"{source}: line {line}"
    if len(text) > MAX_LINE:
        raise ViewedListError(f"{where}: longer than {MAX_LINE} characters")
    value = text.strip()
    if not value or value.startswith("#"):
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise ViewedListError(f"{where}: control or invisible characters in the entry")
    if _HEX.fullmatch(value):
        column = _HASH_COLUMNS.get(len(value))
        if column is None:
            raise ViewedListError(
                f"{where}: {len(value)} hex digits is not an MD5 (32), SHA-1 (40) or SHA-256"
                " (64); write a file name made of hex digits as ./NAME"
            )
        return Entry(line, column, value.lower())
    if value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value):
        raise ViewedListError(f"{where}: an absolute path; give it relative to the scanned folder")
    parts = PurePosixPath(value).parts
    if ".." in parts:
        raise ViewedListError(f"{where}: '..' in the path; give it relative to the scanned folder")
    relative = str(PurePosixPath(*parts)) if parts else ""
    if relative in ("", "."):
        raise ViewedListError(f"{where}: not a file path")
    return Entry(line, "path", relative)


def read_entries(path: Path) -> Iterator[Entry]:
    """The list's entries in order; ``ViewedListError`` at the first bad line."""
    source = str(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ViewedListError(f"{source}: cannot read the viewed list: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(_lines(handle, source), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ViewedListError(
                    f"{source}: line {number}: not UTF-8 (byte {exc.start + 1})"
                ) from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            entry = _entry(text.rstrip("\r\n"), number, source)
            if entry is not None:
                yield entry


def _lines(handle: BinaryIO, source: str) -> Iterator[bytes]:
    # readline with a limit (4 bytes a character, and CR LF): a file with no line breaks
    # never becomes one huge string.
    number = 0
    while True:
        raw = handle.readline(MAX_LINE * 4 + 2)
        if not raw:
            return
        number += 1
        if not raw.endswith(b"\n") and handle.read(1):
            raise ViewedListError(f"{source}: line {number}: longer than {MAX_LINE} characters")
        yield raw


def check_list(path: Path) -> ListSummary:
    """Read the whole list once (before a scan): its digest and counts, or the first error."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ViewedListError(f"{path}: cannot read the viewed list: {exc.strerror}") from None
    summary = ListSummary(str(path), digest.hexdigest())
    for entry in read_entries(path):
        summary.entries += 1
        summary.by_kind[entry.kind] = summary.by_kind.get(entry.kind, 0) + 1
    return summary


def _chunks(entries: Iterator[Entry]) -> Iterator[list[Entry]]:
    block: list[Entry] = []
    for entry in entries:
        block.append(entry)
        if len(block) >= CHUNK:
            yield block
            block = []
    if block:
        yield block


def _bases(roots: Sequence[Path]) -> list[Path]:
    """The folders relative paths are read from: each scanned folder, or a file's folder."""
    return [root if root.is_dir() else root.parent for root in roots]


def _mark_chunk(
    session: Session, evidence_id: int, block: list[Entry], bases: list[Path]
) -> list[Entry]:
    """Mark the instances this block names as viewed; the entries that named none."""
    in_evidence = FileInstance.evidence_id == evidence_id
    hashes: dict[str, set[str]] = {}
    paths: dict[str, list[Entry]] = {}
    for entry in block:
        if entry.kind == "path":
            for base in bases:
                paths.setdefault(display_path(base / entry.value), []).append(entry)
        else:
            hashes.setdefault(entry.kind, set()).add(entry.value)
    found: set[tuple[str, str]] = set()
    conditions = []
    for column, values in hashes.items():
        attribute = getattr(File, column)
        shas = select(File.sha256).where(attribute.in_(sorted(values)))
        conditions.append(FileInstance.sha256.in_(shas))
        matched = session.scalars(
            select(attribute)
            .join(FileInstance, FileInstance.sha256 == File.sha256)
            .where(in_evidence, attribute.in_(sorted(values)))
            .distinct()
        )
        found.update((column, str(v)) for v in matched)
    if paths:
        conditions.append(FileInstance.path.in_(sorted(paths)))
        matched_paths = session.scalars(
            select(FileInstance.path).where(in_evidence, FileInstance.path.in_(sorted(paths)))
        )
        for p in matched_paths:
            found.update(("path", e.value) for e in paths[p])
    if conditions:
        session.execute(
            update(FileInstance)
            .where(in_evidence, or_(*conditions))
            .values(viewed_by_provider=True)
            .execution_options(synchronize_session=False)
        )
    return [e for e in block if (e.kind, e.value) not in found]


def mark_viewed(
    store: Store,
    evidence_id: int,
    list_path: Path,
    roots: Sequence[Path],
    *,
    actor: str,
) -> ViewedMarks:
    """Set ``viewed_by_provider`` on every instance of the evidence item from the list:
    True when listed (by hash, or by path under one of ``roots``), False otherwise.

    One transaction with its audit entry: a bad line found on this second reading (the file
    changed since ``check_list``) leaves every instance as it was."""
    summary = check_list(list_path)
    bases = _bases(roots)
    unmatched = 0
    examples: list[str] = []
    with store.session() as session:
        session.execute(
            update(FileInstance)
            .where(FileInstance.evidence_id == evidence_id)
            .values(viewed_by_provider=False)
            .execution_options(synchronize_session=False)
        )
        for block in _chunks(read_entries(list_path)):
            missed = _mark_chunk(session, evidence_id, block, bases)
            unmatched += len(missed)
            room = EXAMPLES - len(examples)
            examples.extend(f"line {e.line}: {e.value}" for e in missed[:room])
        counts: dict[bool | None, int] = {
            value: int(n)
            for value, n in session.execute(
                select(FileInstance.viewed_by_provider, func.count())
                .where(FileInstance.evidence_id == evidence_id)
                .group_by(FileInstance.viewed_by_provider)
            )
        }
        marks = ViewedMarks(
            entries=summary.entries,
            viewed=int(counts.get(True, 0)),
            not_viewed=int(counts.get(False, 0)),
            unmatched=unmatched,
            unmatched_examples=examples,
        )
        record(
            session,
            actor=actor,
            action="evidence.viewed_by_provider",
            target_type="evidence",
            target_id=str(evidence_id),
            details={
                "list": summary.source,
                "list_sha256": summary.sha256,
                "entries": summary.entries,
                "viewed": marks.viewed,
                "not_viewed": marks.not_viewed,
                "unmatched": unmatched,
            },
        )
    return marks
