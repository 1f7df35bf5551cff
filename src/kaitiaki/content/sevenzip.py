"""7z through py7zr, streamed.

py7zr 1.x only pushes member bytes into writer objects (``WriterFactory``); it has no pull API.
So a worker thread runs py7zr's extraction into writers that put chunks on a small bounded
queue, and this side reads them off as each member's stream: memory stays bounded (the queue,
plus one decompressor block), nothing touches the disk, and a member is only decompressed while
someone reads it.

We drive py7zr's ``Worker`` directly rather than ``extractall(factory=...)``: that path first
turns every name into an output path and refuses the whole archive when one name climbs out of
the target folder, while we want such members read (and their names noted) like any other.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

import py7zr
import py7zr.compressor
import py7zr.exceptions
import py7zr.io

from kaitiaki.content.archivebase import (
    ENCRYPTED,
    ArchiveBombError,
    ArchiveError,
    ArchiveMember,
    ExpansionBudget,
    GuardedReader,
    describe,
    guarded,
    make_member,
)

_SLICE = 1 << 20  # largest chunk put on the queue
_QUEUED = 4  # chunks waiting at most: the queue holds at most _QUEUED MiB
_POLL = 0.2  # seconds between checks for a cancelled or dead peer
_MAX_LINK = 4096


class _CancelledError(Exception):
    """Raised in the worker thread when the reading side has gone away."""


class _Channel:
    """Events from the worker thread: ("start", id), ("data", bytes), ("end",), ("done",),
    ("error", exception)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=_QUEUED)
        self.cancelled = threading.Event()
        self.thread: threading.Thread | None = None

    def put(self, event: tuple[Any, ...]) -> None:
        while True:
            if self.cancelled.is_set():
                raise _CancelledError
            try:
                self._queue.put(event, timeout=_POLL)
                return
            except queue.Full:
                continue

    def get(self) -> tuple[Any, ...]:
        while True:
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                if self.thread is not None and not self.thread.is_alive() and self._queue.empty():
                    raise ArchiveError("7z reader stopped unexpectedly") from None

    def cancel(self) -> None:
        self.cancelled.set()
        if self.thread is not None:
            self.thread.join()


class _Writer(py7zr.io.Py7zIO):
    """Where py7zr writes one member: chunks go on the channel."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel

    def write(self, s: bytes | bytearray) -> int:
        view = memoryview(s)
        for start in range(0, len(view), _SLICE):
            self._channel.put(("data", bytes(view[start : start + _SLICE])))
        return len(s)

    def close(self) -> None:  # called by py7zr only when the member was written whole
        self._channel.put(("end",))

    def seekable(self) -> bool:  # so that py7zr does not rewind us after the last write
        return False

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return 0


class _Factory(py7zr.io.WriterFactory):
    def __init__(self, channel: _Channel) -> None:
        self._channel = channel

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        self._channel.put(("start", int(filename)))  # the name is our key: the file's id
        return _Writer(self._channel)


class _MemberStream:
    """One member's chunks, read off the channel until its end."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._chunk = memoryview(b"")
        self.finished = False

    def read(self, size: int) -> bytes:
        while not self._chunk and not self.finished:
            event = self._channel.get()
            if event[0] == "data":
                self._chunk = memoryview(event[1])
            elif event[0] == "end":
                self.finished = True
            else:
                raise (
                    _translate(event[1])
                    if event[0] == "error"
                    else ArchiveError(f"7z reader out of step: {event[0]} inside a member")
                )
        data = bytes(self._chunk[:size])
        self._chunk = self._chunk[size:]
        return data


def iter_7z(stream: BinaryIO, budget: ExpansionBudget) -> Iterator[ArchiveMember]:
    try:
        archive = py7zr.SevenZipFile(stream, mode="r")
    except py7zr.exceptions.PasswordRequired as exc:
        raise ArchiveError(
            "unreadable 7z: its headers are encrypted: member names, sizes and contents cannot "
            "be read without the key"
        ) from exc
    except Exception as exc:  # py7zr's header parser raises many kinds on hostile input
        raise _translate(exc) from exc
    with archive:
        files = {f.id: f for f in archive.files}
        wanted: list[Any] = []
        for f in files.values():
            budget.add_member()
            if f.is_directory and (f.emptystream or not f.is_junction):
                continue
            if f.emptystream:  # no data to decompress; py7zr need not be asked
                yield make_member(f.filename, 0, io.BytesIO)
            elif f.folder is not None and py7zr.compressor.SupportedMethods.needs_password(
                f.folder.coders
            ):
                yield make_member(f.filename, f.uncompressed, error=ENCRYPTED)
            elif f.is_socket:
                yield make_member(f.filename, None, error="socket in archive; nothing to read")
            else:
                wanted.append(f)
        if wanted:
            yield from _extracted(archive, files, wanted, budget)


def _extracted(
    archive: py7zr.SevenZipFile, files: dict[int, Any], wanted: list[Any], budget: ExpansionBudget
) -> Iterator[ArchiveMember]:
    channel = _Channel()
    worker = archive.worker
    for f in wanted:
        worker.register_filelike(f.id, py7zr.io.MemIO(str(f.id), _Factory(channel)))
    # py7zr's own bomb guard, as a second line: it also counts what py7zr decompresses only to
    # check CRCs (members of a solid block that we did not ask for), which we never see.
    worker.max_extract_size = max(0, budget.limits.max_total_bytes - budget.expanded)

    def run() -> None:
        try:
            worker.extract(archive.fp, None, parallel=False)
            channel.put(("done",))
        except _CancelledError:
            return
        except BaseException as exc:  # handed to the reading side, which raises it there
            try:
                channel.put(("error", exc))
            except _CancelledError:
                return

    channel.thread = threading.Thread(target=run, name="kaitiaki-7z", daemon=True)
    channel.thread.start()
    try:
        while True:
            event = channel.get()
            if event[0] == "done":
                return
            if event[0] == "error":
                raise _translate(event[1])
            if event[0] != "start":
                raise ArchiveError(f"7z reader out of step: {event[0]} between members")
            f = files[event[1]]
            refusal = budget.refusal(f.uncompressed)
            if refusal:
                yield make_member(f.filename, f.uncompressed, error=refusal)
                # Members after it in a solid block are reached only by expanding it.
                raise ArchiveBombError(f"stopped reading the 7z: {refusal}")
            source = _MemberStream(channel)
            reader = guarded(source.read, "7z member", budget)
            if f.is_symlink or f.is_junction:
                target = reader.read(_MAX_LINK).decode("utf-8", "backslashreplace")
                yield make_member(f.filename, None, error=f"symlink to {target!r}, not followed")
            else:

                def opener(reader: BinaryIO = reader) -> BinaryIO:
                    return reader

                yield make_member(f.filename, f.uncompressed, opener)
            # Whatever the consumer left unread is drained (and counted) to reach the next member.
            drain = GuardedReader(source.read, "7z member", budget)
            while not source.finished:
                drain.read(_SLICE)
    finally:
        channel.cancel()


def _translate(exc: BaseException) -> ArchiveError:
    if isinstance(exc, ArchiveError):
        return exc
    if isinstance(exc, py7zr.exceptions.DecompressionBombError):
        return ArchiveBombError(f"archive bomb: {exc}")
    if isinstance(exc, py7zr.exceptions.PasswordRequired):
        return ArchiveError(ENCRYPTED)
    if isinstance(exc, py7zr.exceptions.UnsupportedCompressionMethodError) and exc.args:
        # py7zr gives (method id, a paragraph of advice); the first sentence says what.
        said = str(exc.args[-1]).split(". ", 1)[0].rstrip(".")
        method = exc.args[0].hex(" ") if isinstance(exc.args[0], bytes) else exc.args[0]
        return ArchiveError(f"unreadable 7z: {said} (coder {method})")
    return ArchiveError(f"unreadable 7z: {describe(exc)}")
