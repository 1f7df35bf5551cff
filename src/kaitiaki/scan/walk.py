"""Walk evidence roots: every regular file once, every oddity recorded instead of raised.

Symlinks are followed only when they stay inside the roots being scanned (a seized file system
may hold absolute links that would otherwise read the examiner's own machine); a link back into
a directory already being walked is a loop and is recorded as one.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class WalkEntry:
    """A regular file to hash, or (with ``error``) a path that could not be."""

    path: Path
    error: str | None = None


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def walk(roots: Sequence[Path]) -> Iterator[WalkEntry]:
    """Files under ``roots`` (files or folders) in a stable, sorted order."""
    resolved = [Path(os.path.realpath(root)) for root in roots]
    for root in roots:
        yield from _walk_one(root, resolved, ancestors=frozenset())


def _walk_one(
    path: Path, roots: Sequence[Path], ancestors: frozenset[tuple[int, int]]
) -> Iterator[WalkEntry]:
    try:
        link = path.is_symlink()
        info = path.stat()  # follows the link
    except FileNotFoundError:
        yield WalkEntry(path, "broken symlink" if path.is_symlink() else "file vanished")
        return
    except RecursionError:
        yield WalkEntry(path, "symlink loop")
        return
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the kernel gave up resolving a chain of links
            yield WalkEntry(path, "symlink loop")
        else:
            yield WalkEntry(path, f"unreadable: {exc.strerror}")
        return
    if link:
        target = Path(os.path.realpath(path))
        if not _inside(target, roots):
            yield WalkEntry(path, f"symlink to {target}, outside the evidence; not followed")
            return
    if stat.S_ISREG(info.st_mode):
        yield WalkEntry(path)
        return
    if not stat.S_ISDIR(info.st_mode):
        yield WalkEntry(path, "not a regular file (device, socket or pipe); not read")
        return
    key = (info.st_dev, info.st_ino)
    if key in ancestors:
        yield WalkEntry(path, "symlink loop: links back to a folder being walked")
        return
    if link:
        # A link to a folder inside the roots: that folder is walked in its own place.
        yield WalkEntry(path, "symlink to a folder inside the evidence; walked at its target")
        return
    try:
        with os.scandir(path) as entries:
            names = sorted((entry.name for entry in entries), key=os.fsencode)
    except OSError as exc:
        yield WalkEntry(path, f"folder unreadable: {exc.strerror}")
        return
    inner = ancestors | {key}
    for name in names:
        yield from _walk_one(path / name, roots, inner)
