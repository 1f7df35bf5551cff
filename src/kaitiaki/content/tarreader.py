"""tar, and the single-stream compressors (gzip, bzip2, xz) with or without a tar inside.

Everything is read forward only, as ``tarfile`` stream mode (``r|``) does: no seeks, bounded
memory, whatever the size of a member.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from kaitiaki.content.archivebase import (
    READ_ERRORS,
    ArchiveBombError,
    ArchiveError,
    ArchiveMember,
    ExpansionBudget,
    describe,
    guarded,
    make_member,
)

DECOMPRESSED = "<decompressed>"
_FEXTRA, _FNAME = 0x04, 0x08
_MAX_GZIP_NAME = 4096
# Not in typeshed's tarfile; the normal end of an archive (a block of zeros).
_EOF_HEADER: type[Exception] = getattr(tarfile, "EOFHeaderError")  # noqa: B009
# Also not in typeshed: no bytes at all where the next header should be.
_EMPTY_HEADER: type[Exception] = getattr(tarfile, "EmptyHeaderError")  # noqa: B009


def iter_tar(stream: BinaryIO, budget: ExpansionBudget) -> Iterator[ArchiveMember]:
    yield from _tar_members(guarded(stream.read, "tar", budget), budget)


def iter_compressed(
    stream: BinaryIO, mime: str, budget: ExpansionBudget
) -> Iterator[ArchiveMember]:
    """gzip/bzip2/xz: the members of the tar inside, or the one decompressed stream."""
    name = _gzip_name(stream) if mime == "application/gzip" else None
    label, opened = _decompressor(stream, mime)
    # Counting here, below tarfile, also counts the bytes tarfile skips and its headers:
    # every byte the decompressor produces.
    expanded = guarded(opened.read, label, budget, opened.close)
    head = expanded.read(tarfile.BLOCKSIZE)
    whole = io.BufferedReader(_Prefixed(head, expanded))
    if _is_tar_header(head):
        yield from _tar_members(whole, budget)
        return
    budget.add_member()
    yield make_member(name or DECOMPRESSED, None, lambda: whole)


def _decompressor(stream: BinaryIO, mime: str) -> tuple[str, io.BufferedIOBase]:
    # Not context managers here: the guarded stream closes them with the member.
    if mime == "application/gzip":
        return "gzip stream", gzip.GzipFile(fileobj=stream, mode="rb")
    if mime == "application/x-bzip2":
        return "bzip2 stream", bz2.BZ2File(stream, mode="rb")
    return "xz stream", lzma.LZMAFile(stream, mode="rb")


class _TarInfo(tarfile.TarInfo):
    """Tells a damaged or truncated tar from one that ended, which tarfile treats alike."""

    @classmethod
    def fromtarfile(cls, archive: tarfile.TarFile) -> _TarInfo:
        try:
            return super().fromtarfile(archive)
        except _EOF_HEADER:
            raise
        except tarfile.HeaderError as exc:
            if archive.offset == 0:
                raise  # tarfile reports "not a tar" itself
            if isinstance(exc, _EMPTY_HEADER):
                raise ArchiveError(
                    f"tar ends at offset {archive.offset} without its end-of-archive blocks "
                    f"(truncated at a member boundary, or written without them)"
                ) from exc
            raise ArchiveError(
                f"tar damaged or truncated at offset {archive.offset}: {describe(exc)}"
            ) from exc


def _tar_members(tar_bytes: BinaryIO, budget: ExpansionBudget) -> Iterator[ArchiveMember]:
    try:  # the with below closes it; only the opening is guarded here
        archive = tarfile.open(  # noqa: SIM115
            fileobj=tar_bytes,
            mode="r|",
            tarinfo=_TarInfo,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except ArchiveError:
        raise
    except READ_ERRORS as exc:
        raise ArchiveError(f"unreadable tar: {describe(exc)}") from exc
    with archive:
        while True:
            try:
                info = archive.next()
            except ArchiveError:
                raise
            except READ_ERRORS as exc:
                raise ArchiveError(f"unreadable tar: {describe(exc)}") from exc
            if info is None:
                return
            # Stream mode keeps every TarInfo it has read; a million members would pile up.
            archive.members = []  # type: ignore[attr-defined]  # set in __init__, not in typeshed
            budget.add_member()
            if info.isreg() and (refusal := budget.refusal(info.size)):
                yield make_member(info.name, info.size, error=refusal)
                # Reaching the next member would mean expanding this one: the tar ends here.
                raise ArchiveBombError(f"stopped reading the tar: {refusal}")
            member = _tar_member(archive, info)
            if member is not None:
                yield member


def _tar_member(archive: tarfile.TarFile, info: tarfile.TarInfo) -> ArchiveMember | None:
    if info.isdir():
        return None
    if info.issym():
        return make_member(
            info.name, None, error=f"symlink to {_shown(info.linkname)}, not followed"
        )
    if info.islnk():
        return make_member(
            info.name,
            None,
            error=f"hard link to {_shown(info.linkname)}; its content is recorded under that name",
        )
    if not info.isreg():
        return make_member(info.name, None, error=f"{_kind(info)} in archive; nothing to read")

    def opener() -> BinaryIO:
        try:
            extracted = archive.extractfile(info)
        except READ_ERRORS as exc:
            raise ArchiveError(f"tar member unreadable: {describe(exc)}") from exc
        if extracted is None:  # only for non-regular members, excluded above
            raise ArchiveError("tar member has no data")
        # Already counted below tarfile; here only errors are translated.
        return guarded(extracted.read, "tar member", None, extracted.close)

    return make_member(info.name, info.size, opener)


def _kind(info: tarfile.TarInfo) -> str:
    if info.ischr():
        return "character device"
    if info.isblk():
        return "block device"
    if info.isfifo():
        return "fifo"
    return f"entry of tar type {info.type!r}"


def _shown(link: str) -> str:
    return repr(link.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


# Type flags a pre-POSIX (V7) tar header can carry: regular ("0" or NUL), link, symlink, and
# the device and fifo types some pre-POSIX tars already wrote.
_OLD_TYPES = b"\x0001234567"


def is_old_tar_header(block: bytes) -> bool:
    """Whether ``block`` starts a pre-POSIX (V7) tar, which has no "ustar" magic to find.

    Strict, since only the header checksum sets such a tar apart: the checksum must match (with
    the octal fields parsed, which ``tarfile`` does), the name must be there and free of control
    bytes, and the type flag one that V7-era tars wrote.
    """
    if len(block) < tarfile.BLOCKSIZE or block[156] not in _OLD_TYPES:
        return False
    name = block[:100].split(b"\0", 1)[0]
    if not name or any(byte < 0x20 for byte in name):
        return False
    return _is_tar_header(block[: tarfile.BLOCKSIZE])


def _is_tar_header(block: bytes) -> bool:
    if len(block) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")  # checks the header checksum
    except tarfile.HeaderError:
        return False
    return True


def _gzip_name(stream: BinaryIO) -> str | None:
    """The original file name stored in a gzip header (FNAME), if any; the stream is rewound."""
    if not stream.seekable():
        return None
    start = stream.tell()
    try:
        header = stream.read(10)
        if len(header) < 10 or header[:2] != b"\x1f\x8b" or not header[3] & _FNAME:
            return None
        if header[3] & _FEXTRA:
            stream.read(int.from_bytes(stream.read(2), "little"))
        raw = bytearray()
        while len(raw) < _MAX_GZIP_NAME and (byte := stream.read(1)) not in (b"", b"\0"):
            raw += byte
    finally:
        stream.seek(start)
    # RFC 1952 says Latin-1; most tools write the file system's bytes, usually UTF-8.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _Prefixed(io.RawIOBase):
    """Bytes already read (to sniff for a tar header) followed by the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            memoryview(buffer)[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._rest.close()
        super().close()
