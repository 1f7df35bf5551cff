"""Units of work a scan hands to its worker processes, and what a worker does with each.

A unit is a few top-level files (each with every archive member inside it), or a slice of a
disk image's files: listed in the scan's main process, read here by their address in the image.
A disk image scanned in slices is also a top-level unit of its own that gives only the image's
record (its SHA-256, for the manifest), so that reading the image whole never holds up its files.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from kaitiaki.content.archivebase import ArchiveError, describe
from kaitiaki.content.archives import ArchiveLimits
from kaitiaki.content.disk import DiskEntry, OpenDiskImage
from kaitiaki.scan.hasher import disk_file_error, disk_file_records, display_path, hash_path
from kaitiaki.signals.record import FileRecord

# Disk images a worker keeps open between slices (two: a walk may reach the next image while
# slices of the last one are still being read).
KEEP_OPEN = 2


@dataclass(frozen=True, slots=True)
class TopLevelFiles:
    """Files found by the walk; ``expand_disk_image=False`` for a disk image read in slices."""

    paths: list[Path]
    expand_disk_image: bool = True


@dataclass(frozen=True, slots=True)
class ImageSlice:
    """Files of the disk image at ``image`` (of type ``mime``), as its listing gave them."""

    image: Path
    mime: str
    entries: list[DiskEntry]


WorkUnit = TopLevelFiles | ImageSlice


def run_unit(unit: WorkUnit, limits: ArchiveLimits) -> list[list[FileRecord]]:
    """Worker side: the records of each file of the unit, one list per file."""
    if isinstance(unit, ImageSlice):
        return _read_slice(unit, limits)
    return hash_files(unit.paths, limits, expand_disk_image=unit.expand_disk_image)


def hash_files(
    paths: list[Path], limits: ArchiveLimits, *, expand_disk_image: bool = True
) -> list[list[FileRecord]]:
    """Every record of each path; a crash on one file is that file's error."""
    out: list[list[FileRecord]] = []
    for path in paths:
        try:
            out.append(list(hash_path(path, limits=limits, expand_disk_image=expand_disk_image)))
        except Exception as exc:  # a scan must survive any single file; the reason is kept
            shown = display_path(path)
            out.append(
                [
                    FileRecord(
                        path=shown,
                        source=shown,
                        error=f"internal error: {type(exc).__name__}: {exc}",
                    )
                ]
            )
    return out


# Per worker process: images opened by earlier slices, most recently used last.
_open_images: OrderedDict[tuple[Path, str], OpenDiskImage] = OrderedDict()


def _opened(image: Path, mime: str) -> OpenDiskImage:
    key = (image, mime)
    reader = _open_images.get(key)
    if reader is None:
        reader = _open_images[key] = OpenDiskImage(image, mime)
        while len(_open_images) > KEEP_OPEN:
            _open_images.popitem(last=False)[1].close()
    _open_images.move_to_end(key)
    return reader


def _read_slice(unit: ImageSlice, limits: ArchiveLimits) -> list[list[FileRecord]]:
    shown = display_path(unit.image)
    container = FileRecord(path=shown, source=shown)
    reader: OpenDiskImage | BaseException | None = None
    if any(entry.address is not None for entry in unit.entries):
        try:
            reader = _opened(unit.image, unit.mime)
        except (ArchiveError, OSError) as exc:  # listed a moment ago: moved, or a segment gone
            reader = exc
    return [_read_file(reader, entry, container, limits) for entry in unit.entries]


def _read_file(
    reader: OpenDiskImage | BaseException | None,
    entry: DiskEntry,
    container: FileRecord,
    limits: ArchiveLimits,
) -> list[FileRecord]:
    """The records of one listed file; what the listing did not foresee is its error."""
    records: list[FileRecord] = []
    try:
        member = entry.member
        if entry.address is not None:
            if not isinstance(reader, OpenDiskImage):
                raise reader or ArchiveError("disk image not open")
            member = reader.member(entry)
        records.extend(disk_file_records(member, container, limits))
    except (ArchiveError, OSError) as exc:
        records.append(disk_file_error(entry.member, container, f"read failed: {describe(exc)}"))
    except Exception as exc:  # as for a top-level file: the reason is kept, the scan goes on
        reason = f"internal error: {type(exc).__name__}: {exc}"
        records.append(disk_file_error(entry.member, container, reason))
    return records
