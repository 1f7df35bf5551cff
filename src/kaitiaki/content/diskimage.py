"""Disk images as The Sleuth Kit sees them: a raw (dd) stream or an E01 set, read-only.

TSK reads through ``Img_Info`` subclasses, so every byte comes from a stream kaitiaki opened
read-only itself (the evidence file, or a spool of a member), never from a path TSK reopens.
E01 needs ``pyewf`` (PyPI ``libewf-python``), imported only when an E01 turns up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO

import pytsk3  # type: ignore[import-not-found, unused-ignore]

from kaitiaki.content.archivebase import ArchiveError
from kaitiaki.content.diskmagic import (
    APFS_MIME,
    EWF_MIME,
    RAW_DISK_MIME,
    UDF_MIME,
    VIRTUAL_DISK_MIMES,
)


class DiskImageError(ArchiveError):
    """The disk image as a whole cannot be read (no file system TSK knows, damaged, no reader)."""


class CallbackImage(pytsk3.Img_Info):  # type: ignore[misc]
    """An image TSK reads through ``read_at(offset, length)``: a stream or an EWF handle."""

    def __init__(self, read_at: Callable[[int, int], bytes], size: int) -> None:
        self._read_at = read_at
        self._size = size
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, length: int) -> bytes:
        if offset >= self._size:
            return b""
        return self._read_at(offset, min(length, self._size - offset))

    def get_size(self) -> int:
        return self._size

    def close(self) -> None:
        """The streams belong to the caller, which closes them."""


def _stream_reader(stream: BinaryIO) -> Callable[[int, int], bytes]:
    def read_at(offset: int, length: int) -> bytes:
        stream.seek(offset)
        return stream.read(length)

    return read_at


def open_image(
    stream: BinaryIO, mime: str, size: int, stack: ExitStack, original: Path | None = None
) -> tuple[Any, int]:
    """A TSK image over ``stream`` and its media size; extra E01 segments close with ``stack``.

    ``original`` is the file on disk the stream was read from, so that an E01 set's further
    segments (``.E02``, ...) can be found beside it.
    """
    if mime in (RAW_DISK_MIME, APFS_MIME, UDF_MIME):  # APFS and UDF: read by ``diskwalkers``
        return CallbackImage(_stream_reader(stream), size), size
    if mime == EWF_MIME:
        return _ewf_image(stream, stack, original)
    if mime in VIRTUAL_DISK_MIMES:
        # Imported here: virtualdisk raises this module's DiskImageError.
        from kaitiaki.content.virtualdisk import open_virtual_disk

        read_at, media_size = open_virtual_disk(stream, mime, stack, original)
        return CallbackImage(read_at, media_size), media_size
    raise DiskImageError(f"not a disk image type kaitiaki reads: {mime or 'unknown'}")


def ewf_reader() -> Any | None:
    """The ``pyewf`` module when installed (PyPI ``libewf-python``), else None."""
    try:
        return importlib.import_module("pyewf")
    except ImportError:
        return None


def _ewf_image(stream: BinaryIO, stack: ExitStack, original: Path | None) -> tuple[Any, int]:
    handle = open_ewf(stream, stack, original)
    size = int(handle.get_media_size())

    def read_at(offset: int, length: int) -> bytes:
        try:
            data: bytes = handle.read_buffer_at_offset(length, offset)
        except (OSError, RuntimeError, ValueError) as exc:
            # libewf reports a damaged chunk as a RuntimeError carrying its whole call chain;
            # as an OSError it is a read error like any other (a file's, or the walk's).
            raise OSError(f"E01 data unreadable at byte {offset}: {libewf_reason(exc)}") from exc
        return data

    return CallbackImage(read_at, size), size


def open_ewf(stream: BinaryIO, stack: ExitStack, original: Path | None) -> Any:
    """A ``pyewf`` handle over the E01 set ``stream`` starts (its further segments found beside
    ``original``), closed with ``stack``; the acquisition check reads the media through it too."""
    pyewf = ewf_reader()
    if pyewf is None:
        raise DiskImageError(
            "E01 (Expert Witness Format) image: reading it needs pyewf (PyPI libewf-python), "
            "which is not installed; the image file itself is hashed"
        )
    streams: list[BinaryIO] = [stream]
    if original is not None:
        try:
            names = pyewf.glob(str(original))
        except (OSError, MemoryError):
            names = [str(original)]  # a lone segment with an unusual name
        for name in names[1:]:
            # Read-only, like the evidence file the walk opened; closed with ``stack``.
            streams.append(stack.enter_context(Path(name).open("rb")))  # noqa: SIM115
    handle = pyewf.handle()
    try:
        handle.open_file_objects(streams)
    except OSError as exc:
        raise DiskImageError(f"E01 image unreadable: {exc}") from exc
    stack.callback(handle.close)
    return handle


def libewf_reason(exc: BaseException) -> str:
    """The cause in libewf's message: "f: unable to read data. g: invalid chunk data size..."."""
    parts = [p.split(": ", 1)[-1] for p in str(exc).strip("'\" ").split(". ") if p]
    reason = parts[1] if len(parts) > 1 else (parts[0] if parts else type(exc).__name__)
    return reason[:200]
