"""Run a scan: walk, hash in a process pool, match, write in batches, resume where it stopped."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from kaitiaki import __version__
from kaitiaki.content.archives import ArchiveLimits
from kaitiaki.match import Matcher
from kaitiaki.scan.hasher import FileRecord, display_path, hash_path
from kaitiaki.scan.manifest import manifest_sha256
from kaitiaki.scan.walk import WalkEntry, walk
from kaitiaki.scan.writer import write_batch
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, FileInstance, Scan

# Files handed to a worker at once: large enough to amortise inter-process overhead, small
# enough that progress stays live and a batch commit never waits long.
TASK_FILES = 8
BATCH_RECORDS = 512
BATCH_SECONDS = 2.0

ProgressCallback = Callable[[int, int], None]


@dataclass
class ScanResult:
    evidence_id: int
    scan_id: int
    sources_total: int
    sources_skipped: int
    records_written: int
    manifest_sha256: str | None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _hash_task(paths: list[Path], limits: ArchiveLimits) -> list[list[FileRecord]]:
    """Worker side: every record of each path; a crash on one file is that file's error."""
    out: list[list[FileRecord]] = []
    for path in paths:
        try:
            out.append(list(hash_path(path, limits=limits)))
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


def _evidence(store: Store, name: str, description: str, acquired_by: str) -> int:
    with store.session() as session:
        row = session.scalar(select(Evidence).where(Evidence.name == name))
        if row is None:
            row = Evidence(name=name, description=description, acquired_by=acquired_by)
            session.add(row)
            session.flush()
        return row.id


def _pending(
    store: Store, evidence_id: int, entries: Iterator[WalkEntry], chunk: int = 500
) -> Iterator[WalkEntry | None]:
    """Entries not yet recorded for this evidence; ``None`` for each one a resumed scan skips."""
    while True:
        block = [e for _, e in zip(range(chunk), entries, strict=False)]
        if not block:
            return
        names = [display_path(e.path) for e in block]
        with store.session() as session:
            done = set(
                session.scalars(
                    select(FileInstance.source).where(
                        FileInstance.evidence_id == evidence_id, FileInstance.source.in_(names)
                    )
                )
            )
        for entry, name in zip(block, names, strict=True):
            yield None if name in done else entry


def run_scan(
    store: Store,
    roots: Sequence[Path],
    evidence: str,
    hash_sets: Sequence[str] | None = None,
    *,
    workers: int | None = None,
    limits: ArchiveLimits | None = None,
    description: str = "",
    acquired_by: str = "",
    on_progress: ProgressCallback | None = None,
) -> ScanResult:
    """Scan ``roots`` into evidence item ``evidence``; a second run resumes the first."""
    started = time.perf_counter()
    missing = [str(r) for r in roots if not os.path.lexists(r)]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    matcher = Matcher.load(store, hash_sets)
    limits = limits or ArchiveLimits()
    workers = workers or os.cpu_count() or 1
    evidence_id = _evidence(store, evidence, description, acquired_by)
    with store.session() as session:
        scan = Scan(
            evidence_id=evidence_id,
            roots=[display_path(r) for r in roots],
            hash_sets=[s.name for s in matcher.hash_sets],
            tool_version=__version__,
        )
        session.add(scan)
        session.flush()
        scan_id = scan.id

    total = sum(1 for _ in walk(roots))
    result = ScanResult(evidence_id, scan_id, total, 0, 0, None)
    done = 0
    batch: list[FileRecord] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal batch, last_flush
        if batch:
            hits = matcher.match(batch)
            with store.session() as session:
                write_batch(session, evidence_id, batch, hits)
            result.records_written += len(batch)
        batch, last_flush = [], time.monotonic()

    def collect(groups: list[list[FileRecord]]) -> None:
        nonlocal done
        for records in groups:
            batch.extend(records)
            done += 1
        if len(batch) >= BATCH_RECORDS or time.monotonic() - last_flush > BATCH_SECONDS:
            flush()
        if on_progress:
            on_progress(done, total)

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kaitiaki.scan.hasher"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        in_flight: set[Future[list[list[FileRecord]]]] = set()
        task: list[Path] = []

        def drain(block: bool) -> None:
            nonlocal in_flight
            if not in_flight:
                return
            finished, in_flight = wait(
                in_flight, timeout=None if block else 0, return_when=FIRST_COMPLETED
            )
            for future in finished:
                collect(future.result())

        for entry in _pending(store, evidence_id, walk(roots)):
            if entry is None:
                result.sources_skipped += 1
                done += 1
                continue
            if entry.error is not None:
                shown = display_path(entry.path)
                collect([[FileRecord(path=shown, source=shown, error=entry.error)]])
                continue
            task.append(entry.path)
            if len(task) >= TASK_FILES:
                in_flight.add(pool.submit(_hash_task, task, limits))
                task = []
                # Bounded work in flight keeps memory flat however many files the walk yields.
                while len(in_flight) >= workers * 4:
                    drain(block=True)
        if task:
            in_flight.add(pool.submit(_hash_task, task, limits))
        while in_flight:
            drain(block=True)
    flush()
    if on_progress:
        on_progress(done, total)

    digest = manifest_sha256(store, evidence_id)
    with store.session() as session:
        evidence_row = session.get(Evidence, evidence_id)
        assert evidence_row is not None
        evidence_row.manifest_sha256 = digest
        scan_row = session.get(Scan, scan_id)
        assert scan_row is not None
        scan_row.finished_at = datetime.now(UTC)
    result.manifest_sha256 = digest
    result.seconds = time.perf_counter() - started
    return result
