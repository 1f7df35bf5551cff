"""Two submissions of one report at once (two web workers, two threads here) send it once: one
does the work, the other loses gracefully. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from submit_world import client, draft, scan_evidence, served

from kaitiaki.cybertip.reports import ReportView
from kaitiaki.cybertip.submit import retract_report, submit_report
from kaitiaki.cybertip.tracking import CyberTipBusyError, Upload, evidence_upload
from kaitiaki.store import Store


def _slow(path: str, sha256: str) -> Upload:
    """The evidence, sent slowly enough that the second worker arrives mid-submission."""
    real = evidence_upload(path, sha256)

    def chunks() -> Iterator[bytes]:
        time.sleep(0.3)
        yield from real.chunks()

    return Upload(real.name, real.size, chunks)


def test_two_submits_at_once_call_submit_once(store: Store, tmp_path: Path) -> None:
    evidence = scan_evidence(store, tmp_path)
    report = draft(store, evidence)
    start = threading.Barrier(2)
    outcomes: list[ReportView | Exception] = []

    def worker(url: str) -> None:
        with client(url) as api:
            start.wait()
            try:
                outcomes.append(
                    submit_report(store, report, actor="web:w", client=api, read_file=_slow)
                )
            except Exception as exc:  # collected, then checked below
                outcomes.append(exc)

    with served() as (standin, url):
        threads = [threading.Thread(target=worker, args=(url,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        busy = [o for o in outcomes if isinstance(o, CyberTipBusyError)]
        done = [o for o in outcomes if isinstance(o, ReportView)]
        assert len(busy) == 1 and len(done) == 1, outcomes
        assert done[0].state == "finished"
        assert standin.count("submit") == 1 and standin.count("finish") == 1
        assert standin.count("upload") == len(evidence)
        # While one worker sends, a retraction is refused the same way, never interleaved.
        assert "being sent" in str(busy[0])
        with client(url) as api:
            assert submit_report(store, report, actor="web:w", client=api).note.startswith(
                "already finished"
            )


def test_the_lock_is_per_report(store: Store, tmp_path: Path) -> None:
    """Two different reports are sent side by side; neither waits for the other."""
    evidence = scan_evidence(store, tmp_path)
    first, second = draft(store, evidence[:1]), draft(store, evidence[1:2])
    outcomes: list[str] = []

    def worker(url: str, report: int) -> None:
        with client(url) as api:
            view = submit_report(store, report, actor="web:w", client=api, read_file=_slow)
            outcomes.append(view.state)

    with served() as (standin, url):
        threads = [threading.Thread(target=worker, args=(url, r)) for r in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert outcomes == ["finished", "finished"] and standin.count("submit") == 2
        with client(url) as api:
            # The lock is given back after each call: a retraction may take it (and is refused
            # for a finished report for NCMEC's reason, not for being busy).
            try:
                retract_report(store, first, actor="web:w", client=api)
            except CyberTipBusyError:
                raise AssertionError("the lock was not released") from None
            except ValueError as refused:
                assert "cannot be retracted" in str(refused)
