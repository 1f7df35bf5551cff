"""zip: members read through ``zipfile`` from a seekable stream, one at a time.

zip has a central directory, so a member that cannot be read (encrypted, refused for its declared
size, an unsupported method) is recorded and the reader goes on to the next one.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from functools import partial
from typing import BinaryIO

from kaitiaki.content.archivebase import (
    ENCRYPTED,
    READ_ERRORS,
    ArchiveError,
    ArchiveMember,
    ExpansionBudget,
    describe,
    guarded,
    make_member,
)
from kaitiaki.content.zipcheck import ENCRYPTED_DIRECTORY, encrypted_directory, overlapping

_FLAG_ENCRYPTED = 0x1
_FLAG_UTF8 = 0x800
_UNIX = 3  # create_system: the high 16 bits of external_attr hold a Unix st_mode
_SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_MAX_LINK = 4096


def iter_zip(stream: BinaryIO, budget: ExpansionBudget) -> Iterator[ArchiveMember]:
    if not stream.seekable():
        raise ArchiveError("zip needs a seekable stream")
    try:
        archive = zipfile.ZipFile(stream)
    except UnicodeDecodeError as exc:
        # zipfile decodes names flagged UTF-8 strictly and gives up on the whole directory.
        raise ArchiveError(f"zip directory has a name flagged UTF-8 that is not: {exc}") from exc
    except READ_ERRORS as exc:
        if encrypted_directory(stream):
            raise ArchiveError(f"unreadable zip: {ENCRYPTED_DIRECTORY}") from exc
        raise ArchiveError(f"unreadable zip: {describe(exc)}") from exc
    with archive:
        overlaps = overlapping(archive)
        for index, info in enumerate(archive.infolist()):
            budget.add_member()
            # Not ``info.is_dir()``: it fails on a name that is empty once zipfile has cut it at
            # a NUL ("\0evil"), which a hostile archive can carry.
            if info.filename.endswith("/"):
                continue
            if index in overlaps:
                yield make_member(_name(info), info.file_size, error=overlaps[index])
                continue
            yield _member(archive, info, budget)


def _member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ExpansionBudget
) -> ArchiveMember:
    name = _name(info)
    mode = info.external_attr >> 16 if info.create_system == _UNIX else 0
    if info.flag_bits & _FLAG_ENCRYPTED:
        return make_member(name, info.file_size, error=ENCRYPTED)
    if info.compress_type not in _SUPPORTED:
        return make_member(
            name, info.file_size, error=f"zip compression method {info.compress_type} not supported"
        )
    refusal = budget.refusal(info.file_size)
    if refusal:
        return make_member(name, info.file_size, error=refusal)
    if stat.S_ISLNK(mode):
        return make_member(
            name, None, error=f"symlink to {_link(archive, info, budget)}, not followed"
        )
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # zipfile.writestr leaves the type bits 0
        return make_member(name, None, error=f"special file (mode {mode:o}) in archive; not read")
    return make_member(name, info.file_size, partial(_open, archive, info, budget))


def _open(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ExpansionBudget) -> BinaryIO:
    try:
        inner = archive.open(info)
    except READ_ERRORS as exc:
        raise ArchiveError(f"zip member unreadable: {describe(exc)}") from exc
    # zipfile stops at the declared size and checks the CRC at the end; the guard counts what
    # actually comes out.
    return guarded(inner.read, "zip member", budget, inner.close)


def _link(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ExpansionBudget) -> str:
    """A symlink's target, which zip stores as the member's content."""
    if info.file_size > _MAX_LINK:
        return "a target too long to show"
    with _open(archive, info, budget) as stream:
        raw = stream.read(_MAX_LINK)
    return repr(raw.decode("utf-8", "backslashreplace"))


def _name(info: zipfile.ZipInfo) -> str:
    """The member's name as stored (before zipfile's NUL truncation), decoded sensibly.

    Without the UTF-8 flag zipfile decodes cp437, as the format says; but many tools write
    UTF-8 without setting the flag, so bytes that are valid UTF-8 are taken as UTF-8 (as 7-Zip
    and Info-ZIP do). cp437 maps every byte, so no name is ever undecodable here.
    """
    name = info.orig_filename
    if info.flag_bits & _FLAG_UTF8 or name.isascii():
        return name
    try:
        return name.encode("cp437").decode("utf-8")
    except UnicodeError:
        return name
