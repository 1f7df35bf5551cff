"""Planning a scan's work: what is left to do, as units for the worker pool.

Top-level files go out a few at a time. A disk image is scanned like the folder it holds: its
files are listed here (the file systems' metadata only, through The Sleuth Kit) and handed out
in slices that the workers read from the image themselves, so an image spreads over every core,
its files count in the progress, and a resumed scan goes on inside it: each slice is written as
a unit, and listed files already recorded are not read again.

The image's own record (its SHA-256 in the manifest) is written last, once every file of the
image is recorded: "the top-level record exists" keeps meaning "this source is done", which is
what a resumed scan checks (``runner.pending_entries``, also used by the Spark engine). The price: a
scan interrupted inside an image reads the image whole once more for its digest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count, islice
from pathlib import Path

from sqlalchemy import select

from kaitiaki.content.archivebase import ArchiveError, ArchiveMember
from kaitiaki.content.archives import ArchiveLimits
from kaitiaki.content.disk import DiskEntry, list_disk_files
from kaitiaki.content.diskmagic import ewf_segment_number
from kaitiaki.content.kinds import HEADER_SIZE, ContentKind, detect
from kaitiaki.scan.hasher import ARCHIVE_SEPARATOR, display_path, image_not_fully_read
from kaitiaki.scan.units import ImageSlice, TopLevelFiles, WorkUnit
from kaitiaki.scan.walk import WalkEntry
from kaitiaki.signals.record import FileRecord
from kaitiaki.store import Store
from kaitiaki.store.models import FileInstance

# Files handed to a worker at once: large enough to amortise inter-process overhead, small
# enough that progress stays live and a batch commit never waits long.
TASK_FILES = 8
SLICE_FILES = 16
# Listed files of an image looked up in the store at once, to skip those already recorded.
LOOKUP_BLOCK = 500


@dataclass(frozen=True, slots=True)
class Task:
    """A unit for the pool. ``image`` is the planned disk image it belongs to (a number), and
    ``image_record`` marks the unit that gives the image's own record."""

    unit: WorkUnit
    image: int | None = None
    image_record: bool = False


@dataclass
class _Image:
    """A disk image being scanned in slices: its own record waits here for its files."""

    outstanding: int = 0
    listed: bool = False
    record: list[list[FileRecord]] = field(default_factory=list)


# What planning yields: a task for the pool, or records to write as they are.
Step = Task | list[list[FileRecord]]


class ScanPlan:
    """Turns the walk into work; ``done`` and ``total`` are the scan's progress, in files
    (a disk image counts for itself and for each file listed inside it)."""

    def __init__(self, store: Store, evidence_id: int, limits: ArchiveLimits, total: int) -> None:
        self._store = store
        self._evidence_id = evidence_id
        self._limits = limits
        self._images: dict[int, _Image] = {}
        self._numbers = count()
        self.total = total
        self.done = 0
        self.sources_skipped = 0
        self.image_files_skipped = 0

    def steps(self, entries: Iterator[WalkEntry | None]) -> Iterator[Step]:
        """``entries``: the walk, ``None`` for each top-level file already recorded."""
        group: list[Path] = []
        for entry in entries:
            if entry is None:
                self.sources_skipped += 1
                self.done += 1
            elif entry.error is not None:
                shown = display_path(entry.path)
                self.done += 1
                yield [[FileRecord(path=shown, source=shown, error=entry.error)]]
            elif (mime := self._sliced_image(entry.path)) is not None:
                yield from self._image_steps(entry.path, mime)
            else:
                group.append(entry.path)
                if len(group) >= TASK_FILES:
                    yield Task(TopLevelFiles(group))
                    group = []
        if group:
            yield Task(TopLevelFiles(group))

    def finished(self, task: Task, groups: list[list[FileRecord]]) -> list[list[FileRecord]]:
        """What to write of a unit's records now (an image's own record waits for its files)."""
        self.done += len(groups)
        if task.image is None:
            return groups
        image = self._images[task.image]
        image.outstanding -= 1
        if task.image_record:
            image.record, groups = groups, []
        return groups + self._release(task.image)

    def _release(self, number: int) -> list[list[FileRecord]]:
        image = self._images[number]
        if not image.listed or image.outstanding:
            return []
        del self._images[number]
        return image.record

    def _sliced_image(self, path: Path) -> str | None:
        """The type of the disk image at ``path`` when it is scanned in slices, else None.

        Decided on the same bytes as the hasher's own detection. Left whole: E01 segments after
        the first (their files are read with the first) and images nested too deep to open.
        """
        if self._limits.max_depth < 1:
            return None
        try:
            with path.open("rb") as stream:
                header = stream.read(HEADER_SIZE)
        except OSError:
            return None  # the worker records why
        detected = detect(header)
        if detected.kind != ContentKind.DISK_IMAGE:
            return None
        segment = ewf_segment_number(header)
        return None if segment is not None and segment > 1 else detected.mime

    def _image_steps(self, path: Path, mime: str) -> Iterator[Step]:
        number = next(self._numbers)
        image = self._images[number] = _Image()
        # The image's digest reads it whole: sent first, it runs beside the slices.
        image.outstanding += 1
        yield Task(TopLevelFiles([path], expand_disk_image=False), number, image_record=True)
        self.total += sum(1 for _ in _listing(path, mime))
        slice_: list[DiskEntry] = []
        for entry in self._not_recorded(path, _listing(path, mime)):
            # Files of one name stay in one slice so that the first listed is the one kept, as
            # when the image is read whole.
            if len(slice_) >= SLICE_FILES and entry.member.name != slice_[-1].member.name:
                image.outstanding += 1
                yield Task(ImageSlice(path, mime, slice_), number)
                slice_ = []
            slice_.append(entry)
        if slice_:
            image.outstanding += 1
            yield Task(ImageSlice(path, mime, slice_), number)
        image.listed = True
        if released := self._release(number):
            yield released

    def _not_recorded(self, path: Path, entries: Iterator[DiskEntry]) -> Iterator[DiskEntry]:
        prefix = display_path(path) + ARCHIVE_SEPARATOR
        while block := list(islice(entries, LOOKUP_BLOCK)):
            names = [prefix + entry.member.name for entry in block]
            with self._store.session() as session:
                recorded = set(
                    session.scalars(
                        select(FileInstance.path).where(
                            FileInstance.evidence_id == self._evidence_id,
                            FileInstance.path.in_(names),
                        )
                    )
                )
            for entry, name in zip(block, names, strict=True):
                if name in recorded:
                    self.done += 1
                    self.image_files_skipped += 1
                else:
                    yield entry


def _listing(path: Path, mime: str) -> Iterator[DiskEntry]:
    """The image's files as the hasher would read them whole, a stopped walk included."""
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            yield from list_disk_files(stream, mime, size, path)
    except (ArchiveError, OSError) as exc:
        shown = display_path(path)
        failed = image_not_fully_read(FileRecord(path=shown, source=shown), exc)
        yield DiskEntry(ArchiveMember("", None, None, failed.error))
