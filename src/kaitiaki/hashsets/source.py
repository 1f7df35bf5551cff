"""Reading an input file once: SHA-256 for the chain of custody, bytes read for progress."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kaitiaki.hashsets.entry import HashSetFormatError

Progress = Callable[[int], None]
"""Called with the number of bytes of the input read so far."""

UTF8_BOM = codecs.BOM_UTF8
# Longest line of a plain or CSV list: a digest list has lines of under 100 characters, a CSV
# row with notes a few thousand; a file of one endless line must not be read whole.
MAX_LINE_CHARS = 1 << 20
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class SourceFile(io.RawIOBase):
    """A binary file that digests and counts what is read through it.

    ``last_chunk`` and ``last_start`` remember the latest read so that a parser error can be
    placed in the file. ``finish()`` reads what the parser left (trailing whitespace) so the
    digest always covers the whole file.
    """

    def __init__(self, path: Path, progress: Progress | None = None) -> None:
        super().__init__()
        self.path = path
        self._file = path.open("rb")
        self._digest = hashlib.sha256()
        self._progress = progress
        self.position = 0
        self.last_start = 0
        self.last_chunk = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = self._file.readinto(view)
        if count:
            chunk = bytes(view[:count])
            self._digest.update(chunk)
            self.last_start, self.last_chunk = self.position, chunk
            self.position += count
            if self._progress is not None:
                self._progress(self.position)
        return count or 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        buffer = bytearray(size)
        count = self.readinto(buffer)
        return bytes(buffer[:count])

    def skip_bom(self) -> str:
        """Consume a UTF-8 BOM; return the encoding the content is in ("utf-8", "utf-16")."""
        head = self._file.read(3)
        self._file.seek(0)
        if head.startswith(UTF8_BOM):
            self.read(len(UTF8_BOM))
            return "utf-8"
        if head[:2] in _UTF16_BOMS:
            return "utf-16"
        return "utf-8"

    def finish(self) -> str:
        """Read to the end; the SHA-256 of the whole file as lowercase hex."""
        while self.read(1 << 20):
            pass
        return self._digest.hexdigest()

    def close(self) -> None:
        self._file.close()
        super().close()


class Utf8Recoder(io.RawIOBase):
    """UTF-16 text re-encoded as UTF-8 bytes, for parsers that only read UTF-8 (boundedjson)."""

    def __init__(self, raw: SourceFile) -> None:
        super().__init__()
        self._text = codecs.getreader("utf-16")(raw)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while len(self._pending) < len(view):
            text = self._text.read(1 << 16)
            if not text:
                break
            self._pending += text.encode("utf-8")
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def text_lines(src: SourceFile, encoding: str, max_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """Text lines of ``src`` (terminators kept), each at most ``max_chars`` characters.

    Leaves ``src`` open: the digest still needs what follows. A longer line is refused with
    its number rather than read into memory whole.
    """
    text = io.TextIOWrapper(io.BufferedReader(src), encoding=encoding, newline="")
    try:
        number = 0
        while line := text.readline(max_chars + 1):
            number += 1
            if len(line) > max_chars and not line.endswith(("\n", "\r")):
                raise HashSetFormatError(
                    src.path, f"line {number}", f"a line longer than {max_chars} characters"
                )
            yield line
    finally:
        # Without detaching, collecting the wrappers would close ``src`` under the importer.
        with contextlib.suppress(ValueError):
            text.detach().detach()
