"""A file system's bytes inside a disk image as a read-only, seekable stream.

The Sleuth Kit reads an image through ``read(offset, length)`` (``diskimage.CallbackImage``:
a raw stream, an E01 set, a virtual disk). The libraries that read what TSK does not (libfsapfs
for APFS, pycdlib for UDF) want a file object instead: this is that file object, over the same
image, starting where the file system starts (offset 0, or a partition's first byte).
"""

from __future__ import annotations

import io
import os
from typing import Any


class VolumeStream(io.RawIOBase):
    """Bytes ``start`` to ``start + size`` of ``image`` (anything with ``read(offset, n)``)."""

    def __init__(self, image: Any, start: int, size: int) -> None:
        super().__init__()
        self._image = image
        self._start = start
        self._size = max(size, 0)
        self._offset = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        length = min(len(view), self._size - self._offset)
        if length <= 0:
            return 0
        data: bytes = self._image.read(self._start + self._offset, length)
        view[: len(data)] = data
        self._offset += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._offset, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(f"seek to {base + offset}, before the start of the volume")
        self._offset = base + offset
        return self._offset

    def tell(self) -> int:
        return self._offset

    def get_size(self) -> int:
        """The volume's length (libbfio, under libfsapfs, asks for it by this name)."""
        return self._size
