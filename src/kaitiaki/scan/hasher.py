"""Hash one top-level file into records: itself and, for an archive, every member recursively."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from kaitiaki.content.archives import (
    ArchiveError,
    ArchiveLimits,
    ExpansionBudget,
    iter_members,
)
from kaitiaki.content.kinds import HEADER_SIZE, ContentKind, detect
from kaitiaki.signals import SIGNALS
from kaitiaki.signals.base import Content, SignalError
from kaitiaki.signals.crypto import CHUNK, DigestAccumulator

# Blobs up to this size stay in memory after the read that digests them; larger ones that a
# signal or the archive reader must read again are spooled to a temporary file.
KEEP_IN_MEMORY = 64 << 20
ARCHIVE_SEPARATOR = "!/"


@dataclass(slots=True)
class FileRecord:
    """One file instance with the hashes of its content; ``error`` says why hashes are missing."""

    path: str
    source: str
    depth: int = 0
    kind: str | None = None
    mime: str | None = None
    size: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    pdq_dihedral: list[str] | None = None
    vpdq: list[list[Any]] | None = None
    exif: dict[str, Any] | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``kaitiaki hash`` view: ``type`` for the kind, empty signals left out."""
        out = {k: v for k, v in asdict(self).items() if v not in (None, [])}
        if "kind" in out:
            out["type"] = out.pop("kind")
        if self.vpdq is not None:
            out["vpdq"] = [
                dict(zip(("frame", "quality", "hex", "seconds"), f, strict=True)) for f in self.vpdq
            ]
        return out


def display_path(path: Path | str) -> str:
    """A path as text; bytes that are not UTF-8 are shown as ``\\xNN`` escapes."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def is_utf8(path: Path | str) -> bool:
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@contextmanager
def _read_once(
    stream: BinaryIO, record: FileRecord, original: Path | None = None
) -> Iterator[tuple[bytes | None, BinaryIO]]:
    """Digest ``stream`` in one pass; yield its bytes (when small) and a re-readable copy.

    A large video or archive read from a member stream is spooled to a temporary file so that
    its decoder can seek; one read from disk (``original``) is simply opened again instead.
    """
    digests = DigestAccumulator()
    first = stream.read(HEADER_SIZE)
    detected = detect(first)
    record.kind, record.mime = detected.kind.value, detected.mime
    digests.update(first)
    wanted = detected.kind in (ContentKind.IMAGE, ContentKind.VIDEO, ContentKind.ARCHIVE)
    large = original is not None and original.stat().st_size > KEEP_IN_MEMORY
    keep = wanted and not large
    with tempfile.SpooledTemporaryFile(max_size=KEEP_IN_MEMORY) as spool:
        if keep:
            spool.write(first)
        while chunk := stream.read(CHUNK):
            digests.update(chunk)
            if keep:
                spool.write(chunk)
        result = digests.finish()
        record.md5, record.sha1, record.sha256 = result.md5, result.sha1, result.sha256
        record.size = result.size
        data: bytes | None = None
        spool.seek(0)
        if keep and result.size <= KEEP_IN_MEMORY:
            data = spool.read()
            spool.seek(0)
        if wanted and large and original is not None:
            with original.open("rb") as again:
                yield None, again
        else:
            yield data, cast(BinaryIO, spool)


def _signals(record: FileRecord, data: bytes | None, copy: BinaryIO) -> None:
    kind = ContentKind(record.kind or ContentKind.OTHER)

    def reopen() -> BinaryIO:
        if data is not None:
            return io.BytesIO(data)
        copy.seek(0)
        return io.BufferedReader(_Unclosable(copy))

    content = Content(kind, record.mime or "", record.size or 0, data, reopen)
    for signal in SIGNALS:
        if signal.applies_to(kind):
            try:
                for key, value in signal.compute(content).items():
                    setattr(record, key, value)
            except SignalError as exc:
                record.error = f"{signal.name}: {exc}"


class _Unclosable(io.RawIOBase):
    """A view of the spool that a reader may close without closing the spool itself."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


def hash_stream(
    stream: BinaryIO,
    path: str,
    source: str,
    *,
    depth: int = 0,
    budget: ExpansionBudget | None = None,
    limits: ArchiveLimits | None = None,
    original: Path | None = None,
) -> Iterator[FileRecord]:
    """Records for one blob read from ``stream``, then for its members if it is an archive."""
    record = FileRecord(path=path, source=source, depth=depth)
    with _read_once(stream, record, original) as (data, copy):
        if record.size == 0:
            record.error = "zero-byte file: nothing to match"
        if record.kind != ContentKind.ARCHIVE:
            _signals(record, data, copy)
            yield record
            return
        yield record
        limits = limits or ArchiveLimits()
        if budget is None:
            budget = ExpansionBudget(limits, compressed_size=record.size or 0)
        if depth + 1 > limits.max_depth:
            yield FileRecord(
                path=path + ARCHIVE_SEPARATOR,
                source=source,
                depth=depth + 1,
                error=f"archive nested deeper than {limits.max_depth} levels; not opened",
            )
            return
        yield from _members(copy, record, budget, limits)


def _members(
    copy: BinaryIO, archive: FileRecord, budget: ExpansionBudget, limits: ArchiveLimits
) -> Iterator[FileRecord]:
    depth = archive.depth + 1
    try:
        for member in iter_members(
            io.BufferedReader(_Unclosable(copy)), archive.mime or "", budget
        ):
            path = archive.path + ARCHIVE_SEPARATOR + member.name
            if member.open is None:
                yield FileRecord(
                    path=path,
                    source=archive.source,
                    depth=depth,
                    size=member.size,
                    error=member.error,
                    notes=[member.note] if member.note else [],
                )
                continue
            try:
                with member.open() as stream:
                    for record in hash_stream(
                        stream, path, archive.source, depth=depth, budget=budget, limits=limits
                    ):
                        if member.note and record.path == path:
                            record.notes.append(member.note)
                        yield record
            except ArchiveError as exc:
                # A bomb caught mid-member: the member is recorded, the archive abandoned.
                yield FileRecord(path=path, source=archive.source, depth=depth, error=str(exc))
                raise
    except ArchiveError as exc:
        archive_error = FileRecord(
            path=archive.path + ARCHIVE_SEPARATOR,
            source=archive.source,
            depth=depth,
            error=f"archive not fully read: {exc}",
        )
        yield archive_error


def hash_path(path: Path, *, limits: ArchiveLimits | None = None) -> Iterator[FileRecord]:
    """Records for a file on disk, opened read-only; unreadable files give one error record."""
    shown = display_path(path)
    notes = [] if is_utf8(path) else ["file name is not valid UTF-8; shown with \\x escapes"]
    try:
        # Opened apart from the ``with`` so that failing to open and failing to read differ.
        stream = path.open("rb")
    except OSError as exc:
        yield FileRecord(path=shown, source=shown, error=f"unreadable: {exc.strerror}", notes=notes)
        return
    yielded = False
    with stream:
        try:
            for record in hash_stream(stream, shown, shown, limits=limits, original=path):
                if record.depth == 0:
                    record.notes.extend(notes)
                yielded = True
                yield record
        except OSError as exc:
            # After an archive's own record, the failure belongs to the rest of its members.
            where = shown + ARCHIVE_SEPARATOR if yielded else shown
            yield FileRecord(
                path=where, source=shown, error=f"read failed: {exc.strerror}", notes=notes
            )
