"""Blurred thumbnails kept on disk, keyed by the content's SHA-256.

A thumbnail is a function of the content alone (and of how ``thumbs`` makes one, named by
``VERSION``), so the one made for a SHA-256 serves every instance of that content. The review
queue asks for the same thumbnails again and again, and decoding a full photo for each request
was the largest cost of a busy server (benchmarks/bench_web.py). The checks before showing one
(the permission, the legal-basis rule) still run on every request; only decoding and blurring
are saved. Only blurred thumbnails are kept: a reveal is always made afresh, never written.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# Change when thumbs.py changes what a thumbnail looks like: old files are then never served.
VERSION = "blur-v1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ThumbnailCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder / VERSION

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.folder / sha256[:2] / f"{sha256}.jpg"

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except OSError:
            return None

    def put(self, sha256: str, data: bytes) -> None:
        """Write atomically (a reader sees the whole file or none); a cache that cannot be
        written is only slower, never an error."""
        target = self.path(sha256)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                Path(temporary).replace(target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            return
