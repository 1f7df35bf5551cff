"""Virtual disks (VMDK, VHD, VHDX, QCOW2) read as the disk they hold.

The disk inside is handed to The Sleuth Kit as a stream (``diskimage.CallbackImage``), so its
partitions and file systems are walked like a raw image's. VMDK and VHD/VHDX are read by
libyal's Python bindings, LGPL-3.0-or-later and imported only when such a disk turns up:
``pyvmdk`` (PyPI ``libvmdk-python``) and ``pyvhdi`` (``libvhdi-python``). QCOW2 is read by
``content/qcow.py`` (libqcow loses compressed data silently: see there).

Every byte comes from a stream kaitiaki opened read-only itself. A VMDK descriptor names its
extent files: they are opened beside the descriptor, by their base name only, so a hostile
descriptor cannot make kaitiaki read a file elsewhere. A disk that needs another file to be
whole (a differencing VHD/VHDX, a QCOW backing file, a VMDK snapshot delta) or a password (an
encrypted QCOW) is refused with that reason: the image file itself is still hashed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO

from kaitiaki.content.diskimage import DiskImageError
from kaitiaki.content.diskmagic import QCOW_MIME, VHD_MIME, VHDX_MIME, VMDK_MIME
from kaitiaki.content.qcow import Qcow2Disk

ReadAt = Callable[[int, int], bytes]

# Format name and the PyPI package that brings its reader module.
_READERS = {
    VMDK_MIME: ("VMDK", "pyvmdk", "libvmdk-python"),
    VHD_MIME: ("VHD", "pyvhdi", "libvhdi-python"),
    VHDX_MIME: ("VHDX", "pyvhdi", "libvhdi-python"),
}
_NO_PARENT_CID = 0xFFFFFFFF  # VMDK "parentCID=ffffffff": a base disk, not a snapshot delta
_VHD_DIFFERENTIAL = 4  # libvhdi's disk type of a differencing VHD/VHDX


def open_virtual_disk(
    stream: BinaryIO, mime: str, stack: ExitStack, original: Path | None = None
) -> tuple[ReadAt, int]:
    """A reader of the disk inside the virtual disk ``stream`` and that disk's size in bytes.

    The handle (and any extent file opened) closes with ``stack``. ``original`` is the file the
    stream was read from: a VMDK descriptor's extent files lie beside it.
    """
    if mime == QCOW_MIME:
        try:
            disk = Qcow2Disk(stream)
        except OSError as exc:
            raise DiskImageError(f"QCOW image unreadable: {exc}") from exc

        def read_qcow(offset: int, length: int) -> bytes:
            try:
                return disk.read(offset, length)
            except (OSError, ValueError) as exc:
                raise OSError(f"QCOW data unreadable at byte {offset}: {exc}") from exc

        return read_qcow, disk.size
    name, module_name, package = _READERS[mime]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise DiskImageError(
            f"{name} virtual disk: reading it needs {module_name} (PyPI {package}), which is "
            "not installed; the image file itself is hashed"
        ) from None
    try:
        if mime == VMDK_MIME:
            handle = _vmdk(module, stream, stack, original)
        else:
            handle = _vhdi(module, stream, stack, name)
        size = int(handle.get_media_size())
    except OSError as exc:
        raise DiskImageError(f"{name} virtual disk unreadable: {libyal_reason(exc)}") from exc

    def read_at(offset: int, length: int) -> bytes:
        try:
            data: bytes = handle.read_buffer_at_offset(length, offset)
        except (OSError, RuntimeError, ValueError) as exc:
            raise OSError(f"{name} data unreadable at byte {offset}: {libyal_reason(exc)}") from exc
        return data

    return read_at, size


def _vmdk(pyvmdk: Any, stream: BinaryIO, stack: ExitStack, original: Path | None) -> Any:
    handle = pyvmdk.handle()
    handle.open_file_object(stream)
    stack.callback(handle.close)
    parent_cid = int(handle.get_parent_content_identifier())
    if parent_cid != _NO_PARENT_CID:
        parent = handle.get_parent_filename() or f"content identifier {parent_cid:08x}"
        raise DiskImageError(
            f"VMDK snapshot delta: its parent disk ({parent}) is not read; only the changes "
            "would be, so the disk is not walked; the image file itself is hashed"
        )
    extents = [str(extent.filename or "") for extent in handle.extent_descriptors]
    stream.seek(0)
    embedded = stream.read(4) in (b"KDMV", b"COWD")
    if embedded and len(extents) == 1:
        # A monolithic sparse or stream-optimised disk: the one extent is this file itself.
        handle.open_extent_data_files_as_file_objects([stream])
        return handle
    if original is None:
        raise DiskImageError(
            f"VMDK descriptor naming {len(extents)} extent file(s) ({', '.join(extents)}): "
            "they are read beside the descriptor, which was found inside another container; "
            "not read"
        )
    files: list[BinaryIO] = []
    for extent in extents:
        # The base name only: a descriptor cannot point kaitiaki at a file outside its folder.
        path = original.parent / Path(extent.replace("\\", "/")).name
        try:
            files.append(stack.enter_context(path.open("rb")))
        except OSError as exc:
            raise DiskImageError(
                f"VMDK extent file {extent!r} named by the descriptor is missing beside it "
                f"({exc.strerror or exc}); not read"
            ) from exc
    handle.open_extent_data_files_as_file_objects(files)
    return handle


def _vhdi(pyvhdi: Any, stream: BinaryIO, stack: ExitStack, name: str) -> Any:
    handle = pyvhdi.file()
    handle.open_file_object(stream)
    stack.callback(handle.close)
    if int(handle.get_disk_type()) == _VHD_DIFFERENTIAL:
        parent = handle.get_parent_filename() or str(handle.get_parent_identifier())
        raise DiskImageError(
            f"{name} differencing disk: its parent disk ({parent}) is not read; only the "
            "changes would be, so the disk is not walked; the image file itself is hashed"
        )
    return handle


def libyal_reason(exc: BaseException) -> str:
    """The cause in a libyal message: "f: unable to read data. g: invalid chunk ... ."."""
    parts = [p.split(": ", 1)[-1] for p in str(exc).strip("'\" ").split(". ") if p]
    reason = parts[1] if len(parts) > 1 else (parts[0] if parts else type(exc).__name__)
    return reason[:200]
