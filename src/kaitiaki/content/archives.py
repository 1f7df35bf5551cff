"""Archive readers (zip, tar and its gz/bz2/xz forms, 7z): members as streams, never extracted.

``iter_members`` is the one entry point; each format has its own module. Every limit breach or
damaged input ends in ``ArchiveError`` (``ArchiveBombError`` for limits), which the hasher records
before going on: members already yielded stay yielded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from kaitiaki.content.appended import NO_RAR_READER, RAR_MIME
from kaitiaki.content.archivebase import (
    ENCRYPTED,
    ArchiveBombError,
    ArchiveError,
    ArchiveLimits,
    ArchiveMember,
    ExpansionBudget,
)
from kaitiaki.content.tarreader import iter_compressed, iter_tar
from kaitiaki.content.zipreader import iter_zip

__all__ = [
    "ENCRYPTED",
    "ArchiveBombError",
    "ArchiveError",
    "ArchiveLimits",
    "ArchiveMember",
    "ExpansionBudget",
    "iter_members",
]


def iter_members(stream: BinaryIO, mime: str, budget: ExpansionBudget) -> Iterator[ArchiveMember]:
    """The members of the archive in ``stream`` (of type ``mime``, detected from its bytes).

    Directories are skipped; links, devices and encrypted members come with ``open=None`` and an
    ``error``. Each member must be read (or left) before the next is asked for. zip and 7z need
    a seekable stream; tar and the compressed forms are read forward only.
    """
    if mime == "application/zip":
        return iter_zip(stream, budget)
    if mime == "application/x-tar":
        return iter_tar(stream, budget)
    if mime in ("application/gzip", "application/x-bzip2", "application/x-xz"):
        return iter_compressed(stream, mime, budget)
    if mime == "application/x-7z-compressed":
        # Imported here: py7zr's import alone takes ~0.2 s of every process that reads no 7z.
        from kaitiaki.content.sevenzip import iter_7z

        return iter_7z(stream, budget)
    if mime == RAR_MIME:
        raise ArchiveError(NO_RAR_READER)
    raise ArchiveError(f"not an archive type kaitiaki reads: {mime or 'unknown'}")
