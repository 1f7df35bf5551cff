"""Fuzz targets for the container and format parsers added by issue 13 (``fuzz_targets`` lists
them in ``TARGETS``): virtual disks (QCOW2 read by hand, VMDK/VHD/VHDX by libyal), the E01
chunk walker, archives found inside other files, pre-POSIX tar headers and category maps.

Each returns a short summary or raises its module's clear error; like every target it runs only
in the sandbox's worker (``fuzz_worker.py``).
"""

from __future__ import annotations

import re
import tarfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

# Guest-disk bytes read after opening a virtual disk: its start (partition tables, superblocks),
# its end (a GPT's backup) and one probe in between, so that a disk that claims petabytes is
# still read in a bounded time, as TSK reads such a disk.
_PROBE = 1 << 20
_STEP = 64 << 10
# As the archive target's: a bomb is caught in seconds.
_LIMITS: dict[str, Any] = {
    "max_total_bytes": 256 << 20,
    "max_ratio": 250.0,
    "ratio_floor": 16 << 20,
    "max_members": 50_000,
}


def virtual_disk(path: Path) -> str:
    """A VMDK, VHD, VHDX or QCOW2 opened as a scan opens it, and read at its start, middle and
    end. A read error must say where; the open must end in the disk or a ``DiskImageError``."""
    from kaitiaki.content.diskmagic import disk_image_mime
    from kaitiaki.content.virtualdisk import open_virtual_disk

    with ExitStack() as stack:
        stream = stack.enter_context(path.open("rb"))
        mime = disk_image_mime(stream.read(4096))
        if mime is None:
            return "not recognised as a disk image"
        stream.seek(0)
        read_at, size = open_virtual_disk(stream, mime, stack, path)
        assert size >= 0, f"negative disk size {size}"
        # Whole steps from step-aligned starts, the last run to the end: no byte read twice.
        middle = max(0, size // 2 - _PROBE // 2)
        middle, end = middle - middle % _STEP, max(0, size - _PROBE)
        offsets = {*range(0, min(size, _PROBE), _STEP), *range(end - end % _STEP, size, _STEP)}
        offsets |= {*range(middle, min(size, middle + _PROBE), _STEP)}
        read = failed = 0
        for offset in sorted(offsets):
            want = min(_STEP, size - offset)
            try:
                data = read_at(offset, want)
            except OSError as exc:
                assert re.search(r"at byte \d+", str(exc)), f"read error without a place: {exc}"
                failed += 1
                continue
            assert len(data) == want, f"{len(data)} bytes read at {offset}, {want} asked"
            read += len(data)
    return f"{mime}: {size} bytes, {read} read, {failed} reads failed"


def ewf_chunks(path: Path) -> str:
    """The E01 chunk walker on one segment: the chunks' size, or None when unsure; never raises.

    The chunk size and media size are ewfacquire's defaults for the seed (64 sectors of 512
    bytes, a 2 MiB disk), as libewf would report them for a sound segment."""
    from kaitiaki.content.ewfchunks import chunk_data

    held = chunk_data([path], 32 << 10, 2 << 20)
    return "unsure" if held is None else f"{held.size} bytes held, {len(held.tail)} beyond"


def appended(path: Path) -> str:
    """An archive found inside a file as a scan finds it (``appended.Finder``, fed in chunks),
    then read as that archive through ``iter_members``, which runs the zip structure checks."""
    from kaitiaki.content.appended import Finder
    from kaitiaki.content.archives import ArchiveLimits, ExpansionBudget, iter_members

    size = path.stat().st_size
    finder = Finder()
    with path.open("rb") as stream:
        while chunk := stream.read(4096):  # small chunks: signatures cut across them
            finder.feed(chunk)
        found = finder.finish(size)
        if found is None:
            return "nothing found"
        assert 0 <= found.offset < size, f"archive offset {found.offset} outside the file"
        stream.seek(0)
        budget = ExpansionBudget(ArchiveLimits(**_LIMITS), size)
        members = read = 0
        for member in iter_members(stream, found.detected.mime, budget):
            members += 1
            if member.open is None:
                assert member.error, "a member that cannot be opened must say why"
                continue
            with member.open() as content:
                while chunk := content.read(1 << 20):
                    read += len(chunk)
    return f"{found.detected.mime} at {found.offset}: {members} members, {read} bytes"


def old_tar(path: Path) -> str:
    """A pre-POSIX tar header as content detection sees it: a header taken for one makes the
    file a tar (the archive target then reads it)."""
    from kaitiaki.content.kinds import HEADER_SIZE, detect
    from kaitiaki.content.tarreader import is_old_tar_header

    data = path.read_bytes()
    old = is_old_tar_header(data[: tarfile.BLOCKSIZE])
    mime = detect(data[:HEADER_SIZE]).mime
    if old:
        assert mime == "application/x-tar", f"an old tar header detected as {mime}"
    return f"old tar header: {old}; {mime}"


def category_map(path: Path) -> str:
    """A ``--category-map-file`` read and checked against every profile, then its summary."""
    from kaitiaki.hashsets.profiles import PROFILES
    from kaitiaki.hashsets.summary import (
        CategoryMapError,
        ImportSummary,
        parse_map,
        read_map_file,
    )

    items = read_map_file(path)
    used = refused = 0
    for profile in PROFILES.values():
        try:
            mapping = parse_map(items, profile)
        except CategoryMapError as exc:
            assert str(exc).strip(), "an empty category map error"
            refused += 1
            continue
        summary = ImportSummary(profile, mapping)
        assert len(summary.notes()) == len(mapping)
        used += 1
    return f"{len(items)} items; used with {used} profiles, refused by {refused}"
