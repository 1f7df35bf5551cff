"""Acquisition checks of a scan's sources, recorded in ``acquisition_checks`` (chain of custody).

- An E01 set (its first segment) is checked against the MD5/SHA-1 it stores: its media is read
  once, in a thread beside the scan's workers (``content.acquisition.verify_ewf``).
- A root the examiner gave a SHA-256 for (``--expected-sha256``): a file (archive, raw image,
  E01 segment, any file) is compared on the SHA-256 of its bytes, as ``sha256sum FILE`` gives
  it, taken from the scan's own record of the file (it is not read again). A folder is compared
  on the SHA-256 of its listing, as
  ``cd FOLDER && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum``
  gives it: one ``HEX  ./relative/path`` line per regular file (symbolic links left out, as
  ``find -type f`` leaves them), in byte order of path.
- Any other disk image with no expected digest is recorded "no stored hash": nothing was given
  to check it against, and the report says so rather than staying silent.

Each check is one row and one audit entry as the acting user. A check already recorded for the
same source, method and expected digests is not recorded again (a resumed scan).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from kaitiaki.audit import record
from kaitiaki.content.acquisition import (
    METHOD_EWF,
    METHOD_FILE,
    METHOD_FOLDER,
    MISMATCH,
    NO_STORED_HASH,
    MediaCheck,
    compare,
    verify_ewf,
)
from kaitiaki.content.diskmagic import EWF_MIME, disk_image_mime, ewf_segment_number
from kaitiaki.content.kinds import HEADER_SIZE, ContentKind
from kaitiaki.scan.hasher import display_path
from kaitiaki.scan.walk import walk
from kaitiaki.store import Store
from kaitiaki.store.models import AcquisitionCheck, File, FileInstance

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
LINES_CHUNK = 500

# (source, bytes done, bytes in all) while an image's media is read.
VerifyProgress = Callable[[str, int, int], None]


class ExpectedHashError(ValueError):
    """An ``--expected-sha256`` value that names no root or is not a SHA-256."""


@dataclass(frozen=True, slots=True)
class RecordedCheck:
    """A check as recorded: where, and what it found."""

    source: str
    check: MediaCheck


def parse_expected(values: Sequence[str], roots: Sequence[Path]) -> dict[str, str]:
    """``{root as shown: sha256}`` from ``HEX`` (one root only) or ``ROOT=HEX`` values."""
    shown = {display_path(root): root for root in roots}
    out: dict[str, str] = {}
    for value in values:
        name, sep, digest = value.rpartition("=")
        if not sep:
            if len(roots) != 1:
                raise ExpectedHashError(
                    f"--expected-sha256 {value}: with {len(roots)} paths scanned, say which one "
                    "it is for as PATH=HEX (PATH as given on the command line)"
                )
            name = display_path(roots[0])
        if not _HEX64.fullmatch(digest):
            raise ExpectedHashError(
                f"--expected-sha256 {value}: {digest!r} is not a SHA-256 (64 hexadecimal digits)"
            )
        root = shown.get(name) or next(
            (r for r in roots if os.path.realpath(r) == os.path.realpath(name)), None
        )
        if root is None:
            raise ExpectedHashError(
                f"--expected-sha256 {value}: {name!r} is not one of the paths scanned "
                f"({', '.join(shown)})"
            )
        key = display_path(root)
        if out.get(key, digest.lower()) != digest.lower():
            raise ExpectedHashError(f"--expected-sha256: two different digests for {key!r}")
        out[key] = digest.lower()
    return out


def folder_listing(store: Store, evidence_id: int, folder: Path) -> tuple[bytes | None, str]:
    """The ``sha256sum`` listing of ``folder`` from the scan's records, or None and why not."""
    entries: list[tuple[bytes, str]] = []
    unreadable: list[str] = []
    base = os.fsencode(folder)
    for entry in walk([folder]):
        if entry.path.is_symlink():
            continue  # find -type f lists no links, nor what they point at
        if entry.error is not None:
            if not entry.error.startswith("not a regular file"):
                unreadable.append(f"{display_path(entry.path)} ({entry.error})")
            continue
        relative = b"./" + os.path.relpath(os.fsencode(entry.path), base)
        entries.append((relative, display_path(entry.path)))
    digests: dict[str, str | None] = {}
    for start in range(0, len(entries), LINES_CHUNK):
        names = [shown for _, shown in entries[start : start + LINES_CHUNK]]
        with store.session() as session:
            for path, digest in session.execute(
                select(FileInstance.path, FileInstance.sha256).where(
                    FileInstance.evidence_id == evidence_id, FileInstance.path.in_(names)
                )
            ):
                digests[path] = digest
    unreadable += [shown for _, shown in entries if not digests.get(shown)]
    if unreadable:
        first = ", ".join(unreadable[:3]) + (" ..." if len(unreadable) > 3 else "")
        return None, f"{len(unreadable):,} file(s) without a digest: {first}"
    # LC_ALL=C sort -z: byte order of the whole relative path.
    entries.sort(key=lambda entry: entry[0])
    return b"".join(_sha256sum_line(digests[shown] or "", name) for name, shown in entries), ""


def _sha256sum_line(digest: str, name: bytes) -> bytes:
    # GNU sha256sum escapes a name holding a backslash or a newline, and marks the line with "\".
    if b"\\" in name or b"\n" in name:
        escaped = name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")
        return b"\\" + digest.encode() + b"  " + escaped + b"\n"
    return digest.encode() + b"  " + name + b"\n"


class AcquisitionChecker:
    """The checks of one scan run: E01s verified in a thread as the scan meets them, the rest
    (and any image a resumed scan did not meet again) when ``finish`` records them all."""

    def __init__(
        self,
        store: Store,
        evidence_id: int,
        roots: Sequence[Path],
        expected: Mapping[str, str] | None = None,
        on_bytes: VerifyProgress | None = None,
    ) -> None:
        self._store = store
        self._evidence_id = evidence_id
        self._roots = list(roots)
        self._expected = dict(expected or {})
        self._on_bytes = on_bytes
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="acquisition-check")
        self._started: dict[str, Future[MediaCheck]] = {}
        self._found: list[tuple[str, Path, str]] | None = None
        self._stop = threading.Event()

    def image_met(self, path: Path) -> None:
        """A disk image the scan is about to read: an E01's first segment is verified now."""
        source = display_path(path)
        if source in self._started or not _first_ewf_segment(path):
            return
        if self._recorded(source, METHOD_EWF):
            return
        progress, stop = self._on_bytes, self._stop

        def verify() -> MediaCheck:
            def on_bytes(done: int, total: int) -> None:
                if stop.is_set():
                    raise InterruptedError(f"scan stopped while reading {source}")
                if progress is not None:
                    progress(source, done, total)

            return verify_ewf(path, on_bytes)

        self._started[source] = self._pool.submit(verify)

    def finish(self, actor: str) -> list[RecordedCheck]:
        """Wait for the E01 checks, make the others, and record each (audited as ``actor``)."""
        try:
            for source, path, mime in self._images():
                if mime == EWF_MIME and source not in self._started:
                    self.image_met(path)
            checks = [(s, future.result()) for s, future in self._started.items()]
            checks += self._other_checks()
        finally:
            self._pool.shutdown(wait=True)
        return [done for source, check in checks if (done := self._write(source, check, actor))]

    def close(self) -> None:
        """Stop: the E01 being read stops at its next block, nothing is recorded."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _other_checks(self) -> list[tuple[str, MediaCheck]]:
        out: list[tuple[str, MediaCheck]] = []
        for source, expected in self._expected.items():
            root = next(r for r in self._roots if display_path(r) == source)
            out.append((source, self._expected_check(root, source, expected)))
        for source, _path, mime in self._images():
            if mime != EWF_MIME and source not in self._expected:
                digest, _error, size = self._top_level(source)
                computed = {"sha256": digest} if digest else None
                reason = "no expected SHA-256 was given (kaitiaki scan --expected-sha256)"
                check = MediaCheck(METHOD_FILE, NO_STORED_HASH, None, computed, size, reason)
                out.append((source, check))
        return out

    def _expected_check(self, root: Path, source: str, expected: str) -> MediaCheck:
        want = {"sha256": expected}
        if root.is_dir():
            listing, why = folder_listing(self._store, self._evidence_id, root)
            if listing is None:
                return MediaCheck(METHOD_FOLDER, MISMATCH, want, None, None, f"not checked: {why}")
            computed = {"sha256": hashlib.sha256(listing).hexdigest()}
            files = listing.count(b"\n")
            status = compare(want, computed)
            detail = f"{files:,} files listed" + (
                "; the folder differs from the one acquired" if status == MISMATCH else ""
            )
            return MediaCheck(METHOD_FOLDER, status, want, computed, None, detail)
        digest, error, size = self._top_level(source)
        if digest is None:
            reason = error or "the scan recorded no digest for it"
            return MediaCheck(METHOD_FILE, MISMATCH, want, None, size, f"not checked: {reason}")
        status = compare(want, {"sha256": digest})
        detail = "the file differs from the one acquired" if status == MISMATCH else ""
        return MediaCheck(METHOD_FILE, status, want, {"sha256": digest}, size, detail)

    def _top_level(self, source: str) -> tuple[str | None, str | None, int | None]:
        with self._store.session() as session:
            row = session.execute(
                select(FileInstance.sha256, FileInstance.error, FileInstance.size).where(
                    FileInstance.evidence_id == self._evidence_id, FileInstance.path == source
                )
            ).first()
        return (row[0], row[1], row[2]) if row is not None else (None, None, None)

    def _images(self) -> list[tuple[str, Path, str]]:
        """Top-level disk images recorded for this evidence under this run's roots."""
        if self._found is not None:
            return self._found
        with self._store.session() as session:
            rows = session.execute(
                select(FileInstance.path, File.mime)
                .join(File, File.sha256 == FileInstance.sha256)
                .where(
                    FileInstance.evidence_id == self._evidence_id,
                    FileInstance.path == FileInstance.source,
                    File.kind == ContentKind.DISK_IMAGE.value,
                )
            ).all()
        by_name = {display_path(p): p for p in _walked_files(self._roots)}
        out = [(s, by_name[s], m) for s, m in rows if s in by_name]
        self._found = [i for i in out if i[2] != EWF_MIME or _first_ewf_segment(i[1])]
        return self._found

    def _recorded(self, source: str, method: str, expected: dict[str, str] | None = None) -> bool:
        with self._store.session() as session:
            rows = session.scalars(
                select(AcquisitionCheck).where(
                    AcquisitionCheck.evidence_id == self._evidence_id,
                    AcquisitionCheck.source == source,
                    AcquisitionCheck.method == method,
                )
            ).all()
            return any(expected is None or row.expected == expected for row in rows)

    def _write(self, source: str, check: MediaCheck, actor: str) -> RecordedCheck | None:
        if self._recorded(source, check.method, check.expected):
            return None
        with self._store.session() as session:
            row = AcquisitionCheck(
                evidence_id=self._evidence_id,
                source=source,
                method=check.method,
                status=check.status,
                expected=check.expected,
                computed=check.computed,
                media_size=check.media_size,
                detail=check.detail,
                checked_by=actor,
            )
            session.add(row)
            session.flush()
            record(
                session,
                actor=actor,
                action="evidence.acquisition_checked",
                target_type="evidence",
                target_id=str(self._evidence_id),
                details={
                    "source": source,
                    "method": check.method,
                    "status": check.status,
                    "expected": check.expected,
                    "computed": check.computed,
                    "media_size": check.media_size,
                    "detail": check.detail,
                },
            )
        return RecordedCheck(source, check)


def _walked_files(roots: Sequence[Path]) -> list[Path]:
    return [entry.path for entry in walk(roots) if entry.error is None]


def _first_ewf_segment(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            header = stream.read(HEADER_SIZE)
    except OSError:
        return False
    # EWF2 (Ex01) keeps its segment number elsewhere: taken for a first segment.
    return disk_image_mime(header) == EWF_MIME and ewf_segment_number(header) in (None, 1)
