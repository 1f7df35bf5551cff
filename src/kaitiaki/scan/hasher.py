"""Hash one top-level file into records: itself and, for an archive, every member recursively."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from kaitiaki.content.appended import RAR_MIME, Finder, may_hold_archive
from kaitiaki.content.archivebase import ArchiveMember, MemberError, describe
from kaitiaki.content.archives import (
    ArchiveError,
    ArchiveLimits,
    ExpansionBudget,
    iter_members,
)
from kaitiaki.content.disk import iter_disk_files
from kaitiaki.content.diskmagic import ewf_segment_number
from kaitiaki.content.kinds import HEADER_SIZE, ContentKind, detect
from kaitiaki.signals import SIGNALS
from kaitiaki.signals.base import Content, SignalError, SignalType
from kaitiaki.signals.crypto import CHUNK, DigestAccumulator
from kaitiaki.signals.record import FileRecord

# The signals this process computes: all of them, unless a scan's worker was told to leave
# one out (``leave_out``; a scan without the robust signal, say).
_computed: tuple[SignalType, ...] = SIGNALS


def leave_out(names: Collection[str]) -> None:
    """Compute every signal but ``names`` in this process (a scan's worker initialiser)."""
    global _computed
    _computed = tuple(s for s in SIGNALS if s.name not in names)


# Kinds whose content is read again after digesting: by a signal or a container reader.
_REREAD = (ContentKind.IMAGE, ContentKind.VIDEO, ContentKind.ARCHIVE, ContentKind.DISK_IMAGE)
# Blobs up to this size stay in memory after the read that digests them; larger ones that a
# signal or the archive reader must read again are spooled to a temporary file.
KEEP_IN_MEMORY = 64 << 20
ARCHIVE_SEPARATOR = "!/"


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
    stream: BinaryIO, record: FileRecord, original: Path | None = None, *, expand: bool = True
) -> Iterator[tuple[bytes | None, BinaryIO]]:
    """Digest ``stream`` in one pass; yield its bytes (when small) and a re-readable copy.

    A large video or archive read from a member stream is spooled to a temporary file so that
    its decoder can seek; one read from disk (``original``) is simply opened again instead.
    A disk image that will not be expanded (``expand=False``) is only digested.
    """
    digests = DigestAccumulator()
    first = stream.read(HEADER_SIZE)
    detected = detect(first)
    record.kind, record.mime = detected.kind.value, detected.mime
    digests.update(first)
    wanted = detected.kind in _REREAD and (expand or detected.kind != ContentKind.DISK_IMAGE)
    large = original is not None and original.stat().st_size > KEEP_IN_MEMORY
    keep = wanted and not large
    # An executable or unrecognised blob may hold an archive further in (SFX, data before a
    # zip). A file on disk is simply opened again if one turns up; a member stream is kept,
    # though only while it is small: a larger one's archive is recorded as not read.
    finder = Finder() if may_hold_archive(detected) else None
    hosted = finder is not None and original is None
    with tempfile.SpooledTemporaryFile(max_size=KEEP_IN_MEMORY) as spool:
        if keep or hosted:
            spool.write(first)
        if finder is not None:
            finder.feed(first)
        while chunk := stream.read(CHUNK):
            digests.update(chunk)
            if finder is not None:
                finder.feed(chunk)
                hosted = hosted and spool.tell() + len(chunk) <= KEEP_IN_MEMORY
            if keep or hosted:
                spool.write(chunk)
        result = digests.finish()
        record.md5, record.sha1, record.sha256 = result.md5, result.sha1, result.sha256
        record.size = result.size
        appended = finder.finish(result.size) if finder is not None else None
        if appended is not None:
            record.notes.append(appended.note)
            # A RAR is refused by the archive reader before any byte is read, copy or not.
            if original is not None or hosted or appended.detected.mime == RAR_MIME:
                record.kind, record.mime = appended.detected.kind.value, appended.detected.mime
                wanted, keep, large = True, hosted, original is not None  # large: reopen
            else:
                record.notes.append(
                    f"larger than {KEEP_IN_MEMORY} bytes inside another archive: not opened"
                )
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
    for signal in _computed:
        if signal.applies_to(kind):
            try:
                for key, value in signal.compute(content).items():
                    setattr(record, key, value)
            except SignalError as exc:
                if signal.supplementary and record.error is None:
                    record.notes.append(f"{signal.name}: {exc}")
                else:
                    # The first failure names the cause; a later signal over the same
                    # undecodable picture would only repeat it.
                    record.error = record.error or f"{signal.name}: {exc}"


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
    expand_disk_image: bool = True,
) -> Iterator[FileRecord]:
    """Records for one blob read from ``stream``, then for what it holds: an archive's members,
    a disk image's files (recursively). With ``expand_disk_image=False`` a disk image gives its
    own record only (a scan reads its files as separate units of work)."""
    record = FileRecord(path=path, source=source, depth=depth)
    with _read_once(stream, record, original, expand=expand_disk_image) as (data, copy):
        if record.size == 0:
            record.error = "zero-byte file: nothing to match"
        if record.kind not in (ContentKind.ARCHIVE, ContentKind.DISK_IMAGE):
            _signals(record, data, copy)
            yield record
            return
        disk = record.kind == ContentKind.DISK_IMAGE
        if disk and not expand_disk_image:
            yield record
            return
        segment = _ewf_segment(copy) if disk else None
        if segment is not None and segment > 1:
            record.notes.append(
                f"E01 segment {segment}: its files are read with the set's first segment"
            )
            yield record
            return
        yield record
        limits = limits or ArchiveLimits()
        if depth + 1 > limits.max_depth:
            what = "disk image" if disk else "archive"
            yield FileRecord(
                path=path + ARCHIVE_SEPARATOR,
                source=source,
                depth=depth + 1,
                error=f"{what} nested deeper than {limits.max_depth} levels; not opened",
            )
            return
        if disk:
            yield from _disk_files(copy, record, limits, original)
            return
        if budget is None:
            budget = ExpansionBudget(limits, compressed_size=record.size or 0)
        yield from _members(copy, record, budget, limits)


def _ewf_segment(copy: BinaryIO) -> int | None:
    copy.seek(0)
    number = ewf_segment_number(copy.read(16))
    copy.seek(0)
    return number


def _member_records(
    member: ArchiveMember,
    container: FileRecord,
    budget: ExpansionBudget | None,
    limits: ArchiveLimits,
) -> Iterator[FileRecord]:
    """The member's own record (with what its file system says of it), then its contents."""
    path = container.path + ARCHIVE_SEPARATOR + member.name
    depth = container.depth + 1
    if member.open is None:
        yield _stamped(
            FileRecord(
                path=path,
                source=container.source,
                depth=depth,
                size=member.size,
                error=member.error,
                notes=[member.note] if member.note else [],
            ),
            member,
        )
        return
    if member.fs_metadata:
        with member.open() as stream:
            record = _metadata_record(stream, path, container.source, depth)
        yield _stamped(record, member)
        return
    with member.open() as stream:
        for record in hash_stream(
            stream, path, container.source, depth=depth, budget=budget, limits=limits
        ):
            if record.path == path:
                if member.note:
                    record.notes.append(member.note)
                _stamped(record, member)
            yield record


def _metadata_record(stream: BinaryIO, path: str, source: str, depth: int) -> FileRecord:
    """A file system's own file, digested only: an up-case table or a cluster bitmap is not the
    user's content, and decoding it as a picture or an archive would only report it corrupt."""
    digests = DigestAccumulator()
    while chunk := stream.read(CHUNK):
        digests.update(chunk)
    result = digests.finish()
    kind = ContentKind.OTHER if result.size else ContentKind.EMPTY
    record = FileRecord(path=path, source=source, depth=depth, kind=kind.value, size=result.size)
    record.mime = "application/octet-stream" if result.size else "application/x-empty"
    record.md5, record.sha1, record.sha256 = result.md5, result.sha1, result.sha256
    record.notes.append("file-system metadata: hashed, not analysed as content")
    if not result.size:
        record.error = "zero-byte file: nothing to match"
    return record


def _stamped(record: FileRecord, member: ArchiveMember) -> FileRecord:
    record.deleted = member.deleted
    record.fs_metadata = member.fs_metadata
    if member.deleted and record.sha256:
        record.notes.append("deleted file: read from blocks the file system marks free")
    if member.times is not None:
        record.modified_at = member.times.modified
        record.accessed_at = member.times.accessed
        record.changed_at = member.times.changed
        record.created_on_fs_at = member.times.created
    return record


def _members(
    copy: BinaryIO, archive: FileRecord, budget: ExpansionBudget, limits: ArchiveLimits
) -> Iterator[FileRecord]:
    depth = archive.depth + 1
    try:
        for member in iter_members(
            io.BufferedReader(_Unclosable(copy)), archive.mime or "", budget
        ):
            try:
                yield from _member_records(member, archive, budget, limits)
            except ArchiveError as exc:
                # A bomb caught mid-member: the member is recorded, the archive abandoned.
                path = archive.path + ARCHIVE_SEPARATOR + member.name
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


def _disk_files(
    copy: BinaryIO, image: FileRecord, limits: ArchiveLimits, original: Path | None
) -> Iterator[FileRecord]:
    """A disk image's files; one unreadable file does not end the walk."""
    stream = io.BufferedReader(_Unclosable(copy))
    try:
        for member in iter_disk_files(stream, image.mime or "", image.size or 0, original):
            yield from disk_file_records(member, image, limits)
    except (ArchiveError, OSError) as exc:
        yield image_not_fully_read(image, exc)


def disk_file_records(
    member: ArchiveMember, image: FileRecord, limits: ArchiveLimits
) -> Iterator[FileRecord]:
    """One file of a disk image, like a file found in a folder: an archive in it gets its own
    expansion budget, and a damaged file is its own error record, never the image's."""
    try:
        yield from _member_records(member, image, None, limits)
    except MemberError as exc:
        yield disk_file_error(member, image, str(exc))


def disk_file_error(member: ArchiveMember, image: FileRecord, error: str) -> FileRecord:
    """The error record of a disk image's file, with what its file system says of it."""
    path = image.path + ARCHIVE_SEPARATOR + member.name
    failed = FileRecord(path=path, source=image.source, depth=image.depth + 1, error=error)
    return _stamped(failed, member)


def image_not_fully_read(image: FileRecord, exc: BaseException) -> FileRecord:
    """The record for a disk image whose walk stopped (no file system, damaged folders)."""
    return FileRecord(
        path=image.path + ARCHIVE_SEPARATOR,
        source=image.source,
        depth=image.depth + 1,
        error=f"disk image not fully read: {describe(exc)}",
    )


def hash_path(
    path: Path, *, limits: ArchiveLimits | None = None, expand_disk_image: bool = True
) -> Iterator[FileRecord]:
    """Records for a file on disk, opened read-only; unreadable files give one error record.

    ``expand_disk_image=False``: a disk image gives its own record only, not its files."""
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
            for record in hash_stream(
                stream,
                shown,
                shown,
                limits=limits,
                original=path,
                expand_disk_image=expand_disk_image,
            ):
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
