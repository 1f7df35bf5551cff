"""The walkers beside The Sleuth Kit: which one reads a file system, and reading their files.

TSK walks every file system it knows. Two it does not: APFS (libfsapfs, ``apfs``) and UDF
(pycdlib, ``udf``). Which walker reads a file system is decided from its first bytes, for the
whole image and for each partition TSK cannot open, so an APFS partition in a GPT image is
walked too. A listed file carries its walker's name, so a scan's workers, reading files by their
address, ask the same library that listed it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kaitiaki.content.apfs import ApfsFiles, walk_container
from kaitiaki.content.archivebase import ArchiveMember
from kaitiaki.content.diskmagic import file_system_at_start, udf_descriptors
from kaitiaki.content.volumestream import VolumeStream

if TYPE_CHECKING:
    from kaitiaki.content.udf import UdfFiles

TSK = "tsk"
APFS = "apfs"
UDF = "udf"
# Bytes read to tell a file system: UDF's and ISO 9660's descriptors start at 32 KiB.
DETECT_BYTES = 64 * 1024

# A listed member, its address (None: nothing to read) and its store (APFS: volume index).
Found = tuple[ArchiveMember, int | None, int]


def walker_at(image: Any, offset: int, media_size: int) -> str | None:
    """The walker other than TSK for the file system at ``offset``, if it needs one."""
    header: bytes = image.read(offset, max(0, min(DETECT_BYTES, media_size - offset)))
    found = file_system_at_start(header)
    if found == "apfs":
        return APFS
    if found == "udf" or (found == "iso9660" and udf_descriptors(header)):
        return UDF
    return None


def walk_other(
    walker: str, image: Any, offset: int, media_size: int, prefix: str, label: str
) -> Iterator[Found] | str:
    """The files ``walker`` finds at ``offset``; or, when a UDF bridge's UDF side cannot be
    opened, why not: its ISO 9660 side is then left to TSK (and the reason recorded)."""
    stream = io.BufferedReader(VolumeStream(image, offset, media_size - offset))
    if walker == APFS:
        return walk_container(stream, prefix, media_size)
    # Imported here: pycdlib's import takes ~0.1 s of every process that meets no UDF volume.
    from kaitiaki.content.udf import UdfError, walk_udf

    try:
        found = walk_udf(stream, prefix, media_size)
        first = next(found, None)
    except UdfError as exc:
        if file_system_at_start(image.read(offset, DETECT_BYTES)) == "iso9660":
            return str(exc)
        reason = (
            f"{label}: UDF file system: not read (no ISO 9660 side: pycdlib, the UDF reader "
            f"kaitiaki uses, opens UDF only on a UDF/ISO 9660 bridge image; {exc})"
        )
        return iter([(ArchiveMember(prefix, None, None, reason), None, 0)])
    if first is None:
        return iter(())
    return _udf_found(first, found)


def _udf_found(
    first: tuple[ArchiveMember, int | None], rest: Iterator[tuple[ArchiveMember, int | None]]
) -> Iterator[Found]:
    yield first[0], first[1], 0
    for member, address in rest:
        yield member, address, 0


class OtherFiles:
    """Files listed by APFS and UDF walkers, read from the image through their library."""

    def __init__(self) -> None:
        self._readers: dict[tuple[str, int], ApfsFiles | UdfFiles] = {}

    def member(
        self, image: Any, media_size: int, member: ArchiveMember, where: tuple[str, int, int, int]
    ) -> ArchiveMember:
        """``member`` with an opener; ``where``: its walker, volume offset, address and store."""
        walker, volume, address, store = where
        reader = self._readers.get((walker, volume))
        if reader is None:
            stream = io.BufferedReader(VolumeStream(image, volume, media_size - volume))
            if walker == APFS:
                reader = ApfsFiles(stream)
            else:
                from kaitiaki.content.udf import UdfFiles

                reader = UdfFiles(stream)
            self._readers[(walker, volume)] = reader
        if isinstance(reader, ApfsFiles):
            return reader.member(member, store, address)
        return reader.member(member, address)

    def clear(self) -> None:
        self._readers.clear()
