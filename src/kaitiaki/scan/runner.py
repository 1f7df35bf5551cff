"""Run a scan: walk, hash in a process pool, match, write in batches, resume where it stopped.

``scan.plan`` decides the work (top-level files a few at a time, disk images in slices of their
files); here the units go to a pool with a bounded number in flight, and their records are
matched and written.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from kaitiaki import __version__
from kaitiaki.audit import record
from kaitiaki.content.archives import ArchiveLimits
from kaitiaki.match import Matcher
from kaitiaki.scan.acquisition import AcquisitionChecker, RecordedCheck, VerifyProgress
from kaitiaki.scan.evidence import begin_scan, check_reuse, finish_scan
from kaitiaki.scan.hasher import display_path, leave_out
from kaitiaki.scan.manifest import manifest_sha256
from kaitiaki.scan.plan import ScanPlan, Task
from kaitiaki.scan.units import TopLevelFiles, hash_files, run_unit
from kaitiaki.scan.walk import WalkEntry, walk
from kaitiaki.scan.writer import write_batch
from kaitiaki.signals import ROBUST
from kaitiaki.signals.record import FileRecord
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, FileInstance

BATCH_RECORDS = 512
BATCH_SECONDS = 2.0
# Units in flight per worker: enough to keep every worker busy, few enough to bound memory.
IN_FLIGHT_PER_WORKER = 4

ProgressCallback = Callable[[int, int], None]

# The worker function for whole top-level files; the Spark engine hashes with it too.
hash_sources = hash_files


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
    # Acquisition hashes checked in this run (``scan.acquisition``).
    acquisition: list[RecordedCheck] = field(default_factory=list)


@contextmanager
def checker_closed(checker: AcquisitionChecker) -> Iterator[None]:
    """A scan that fails leaves no E01 being read behind it."""
    try:
        yield
    except BaseException:
        checker.close()
        raise


def ensure_evidence(
    store: Store, name: str, description: str, acquired_by: str, *, actor: str
) -> int:
    """The item named ``name``, made (and audited as ``actor``) when there is none yet."""
    if not actor.strip():
        raise ValueError("an evidence item needs the name of who records it")
    with store.session() as session:
        row = session.scalar(select(Evidence).where(Evidence.name == name))
        if row is None:
            row = Evidence(name=name, description=description, acquired_by=acquired_by)
            session.add(row)
            session.flush()
            record(
                session,
                actor=actor,
                action="evidence.created",
                target_type="evidence",
                target_id=str(row.id),
                details={"evidence": name},
            )
        return row.id


def pending_entries(
    store: Store, evidence_id: int, entries: Iterator[WalkEntry], chunk: int = 500
) -> Iterator[WalkEntry | None]:
    """Entries not yet recorded for this evidence; ``None`` for each one a resumed scan skips.

    A source is recorded once its own record (path = source) is: every way of hashing writes
    that record with, or after, everything read from the source (``scan.plan``).
    """
    while True:
        block = [e for _, e in zip(range(chunk), entries, strict=False)]
        if not block:
            return
        names = [display_path(e.path) for e in block]
        with store.session() as session:
            done = set(
                session.scalars(
                    select(FileInstance.path).where(
                        FileInstance.evidence_id == evidence_id, FileInstance.path.in_(names)
                    )
                )
            )
        for entry, name in zip(block, names, strict=True):
            yield None if name in done else entry


def start_scan(
    store: Store,
    roots: Sequence[Path],
    evidence: str,
    hash_sets: Sequence[str] | None,
    description: str,
    acquired_by: str,
    *,
    add_to_existing: bool = False,
    actor: str,
) -> tuple[Matcher, int, int]:
    """Check the roots exist, load the matcher, record the evidence item and this scan run.

    An existing item is resumed, or added to only with ``add_to_existing`` (audited as
    ``actor``); otherwise ``EvidenceExistsError`` (``scan.evidence``).
    """
    missing = [str(r) for r in roots if not os.path.lexists(r)]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    with store.session() as session:  # refuse a taken name before the matcher's index loads
        check_reuse(session, evidence, [display_path(r) for r in roots], add_to_existing)
    matcher = Matcher.load(store, hash_sets)
    with store.session() as session:
        # The item and its run in one transaction: no item is left behind without a run.
        target = begin_scan(
            session,
            evidence,
            [display_path(r) for r in roots],
            [s.name for s in matcher.hash_sets],
            __version__,
            description=description,
            acquired_by=acquired_by,
            add_to_existing=add_to_existing,
            actor=actor,
        )
    return matcher, target.evidence_id, target.scan_id


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
    add_to_existing: bool = False,
    actor: str,
    on_progress: ProgressCallback | None = None,
    instances_viewed: bool | None = None,
    expected_sha256: Mapping[str, str] | None = None,
    on_verify: VerifyProgress | None = None,
    robust: bool = True,
) -> ScanResult:
    """Scan ``roots`` into evidence item ``evidence``; a run started again after an
    interruption resumes it. Files go into an existing item only with ``add_to_existing``.
    The run's start and its manifest digest are audited as ``actor`` (``scan.evidence``).
    ``instances_viewed`` is the
    ``viewed_by_provider`` new instances get (``scan.provider_views``).
    Acquisition hashes (E01s' own, and ``expected_sha256``: root as shown -> SHA-256) are
    checked and recorded as ``actor`` (``scan.acquisition``); ``on_verify`` follows the
    reading of each E01's media. ``robust=False`` leaves the robust signal out (faster; edited
    copies are then found through PDQ and its trimmed views only)."""
    started = time.perf_counter()
    matcher, evidence_id, scan_id = start_scan(
        store,
        roots,
        evidence,
        hash_sets,
        description,
        acquired_by,
        add_to_existing=add_to_existing,
        actor=actor,
    )
    limits = limits or ArchiveLimits()
    workers = workers or os.cpu_count() or 1

    total = sum(1 for _ in walk(roots))
    plan = ScanPlan(store, evidence_id, limits, total)
    result = ScanResult(evidence_id, scan_id, total, 0, 0, None)
    batch: list[FileRecord] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal batch, last_flush
        if batch:
            hits = matcher.match(batch)
            with store.session() as session:
                write_batch(session, evidence_id, batch, hits, viewed_by_provider=instances_viewed)
            result.records_written += len(batch)
        batch, last_flush = [], time.monotonic()

    def collect(groups: list[list[FileRecord]]) -> None:
        # Whole units only: a batch never holds part of a file's records (see writer).
        for records in groups:
            batch.extend(records)
        if len(batch) >= BATCH_RECORDS or time.monotonic() - last_flush > BATCH_SECONDS:
            flush()
        if on_progress:
            on_progress(plan.done, plan.total)

    checker = AcquisitionChecker(store, evidence_id, roots, expected_sha256, on_verify)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kaitiaki.scan.units"])
    with (
        checker_closed(checker),
        ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=leave_out,
            initargs=((() if robust else (ROBUST.name,)),),
        ) as pool,
    ):
        in_flight: dict[Future[list[list[FileRecord]]], Task] = {}

        def drain() -> None:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                task = in_flight.pop(future)
                collect(plan.finished(task, future.result()))

        for step in plan.steps(pending_entries(store, evidence_id, walk(roots))):
            if not isinstance(step, Task):
                collect(step)
                continue
            if step.image_record and isinstance(step.unit, TopLevelFiles):
                checker.image_met(step.unit.paths[0])  # an E01's media is read beside the slices
            in_flight[pool.submit(run_unit, step.unit, limits)] = step
            # Bounded work in flight keeps memory flat however many files the walk yields.
            while len(in_flight) >= workers * IN_FLIGHT_PER_WORKER:
                drain()
        while in_flight:
            drain()
    flush()
    result.sources_skipped = plan.sources_skipped
    if plan.image_files_skipped:
        result.notes.append(
            f"resumed inside disk images: {plan.image_files_skipped:,} files already recorded"
        )
    if on_progress:
        on_progress(plan.done, plan.total)

    digest = manifest_sha256(store, evidence_id)
    with store.session() as session:
        finish_scan(
            session, evidence_id, scan_id, digest, actor=actor, records=result.records_written
        )
    result.manifest_sha256 = digest
    result.acquisition = checker.finish(actor)
    result.seconds = time.perf_counter() - started
    return result
