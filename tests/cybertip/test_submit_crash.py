"""A submission stopped at any step resumes without NCMEC finishing a report twice or holding a
file twice: a crash before a call, a crash after NCMEC carried it out (the answer never
written down), no answer at all (the stand-in drops the connection after doing the call), and
a real process killed mid-upload. Assertions are on what the stand-in received."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from submit_world import PASSWORD, USER, Evidence, client, draft, scan_evidence, served

from kaitiaki.cybertip.client import CyberTiplineClient, CyberTiplineTransportError
from kaitiaki.cybertip.standin import StandIn
from kaitiaki.cybertip.submit import submit_report
from kaitiaki.cybertip.tracking import report_view
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent

HERE = Path(__file__).resolve().parent
CALLS = ("submit", "upload", "fileinfo", "finish")


class Crash(BaseException):
    """The process dying: nothing after it runs, no handler catches it."""


class CrashingClient(CyberTiplineClient):
    """Dies just before, or just after, NCMEC carries out the n-th ``call``."""

    def __init__(self, url: str, call: str, when: str, nth: int = 1) -> None:
        super().__init__(url, USER, PASSWORD, timeout=30)
        self.call, self.when, self.left = call, when, nth

    def _call(self, method: str, path: str, **request: Any) -> Any:
        hit = path.lstrip("/") == self.call
        if hit:
            self.left -= 1
        if hit and self.left == 0 and self.when == "before":
            raise Crash
        answer = super()._call(method, path, **request)
        if hit and self.left == 0 and self.when == "after":
            raise Crash
        return answer


def _check_outcome(standin: StandIn, store: Store, report: int, evidence: list[Evidence]) -> None:
    view = report_view(store, report)
    assert view.state == "finished", view
    finished = [r for r in standin.reports.values() if r.state == "finished"]
    assert [r.report_id for r in finished] == [view.ncmec_report_id]
    # The finished report holds each file exactly once, each with its details, as evidenced.
    files = [standin.files[f] for f in finished[0].file_ids]
    assert sorted(f.md5 for f in files) == sorted(e.md5 for e in evidence)
    assert all(f.details is not None for f in files)
    assert standin.count("finish") == 1
    # Every other report NCMEC opened is abandoned: retracted, or (an unseen id) left open.
    others = set(standin.reports) - {view.ncmec_report_id}
    assert set(view.abandoned_report_ids) <= others
    for other in others:
        expected = "retracted" if other in view.abandoned_report_ids else "open"
        assert standin.reports[other].state == expected


@pytest.mark.parametrize("when", ["before", "after", "drop"])
@pytest.mark.parametrize("call", CALLS)
def test_a_crash_at_any_step_resumes(
    sqlite_store: Store, tmp_path: Path, call: str, when: str
) -> None:
    store = sqlite_store
    evidence = scan_evidence(store, tmp_path)
    report = draft(store, evidence)
    with served() as (standin, url):
        # The second of several uploads and file details: some done, one in doubt.
        nth = 2 if call in ("upload", "fileinfo") else 1
        if when == "drop":
            _drop_nth(standin, call, nth)
            with client(url) as api, pytest.raises(CyberTiplineTransportError):
                submit_report(store, report, actor="alice", client=api)
        else:
            with CrashingClient(url, call, when, nth) as dying, pytest.raises(Crash):
                submit_report(store, report, actor="alice", client=dying)
        with client(url) as api:
            view = submit_report(store, report, actor="alice", client=api)
    _check_outcome(standin, store, report, evidence)
    opened = standin.count("submit")
    if call == "submit" and when != "before":
        assert opened == 2 and _audited(store, "cybertip.open_uncertain") == 1
    elif call in ("upload", "fileinfo"):
        # The file in doubt: that report retracted, a new one opened, nothing sent twice to it.
        assert opened == 2 and len(view.abandoned_report_ids) == 1
        assert _audited(store, "cybertip.restarted") == 1
    else:
        assert opened == 1 and view.abandoned_report_ids == ()
    if call == "finish" and when != "before":
        assert standin.count("finish", 5102) == 1  # "already finished" means finished


def _drop_nth(standin: StandIn, call: str, nth: int) -> None:
    """Drop the connection after NCMEC carries out the n-th ``call``."""
    original = standin._fault
    seen = {"n": 0}

    def fault(name: str) -> Any:
        if name == call:
            seen["n"] += 1
            if seen["n"] == nth:
                from kaitiaki.cybertip.standin import Fault

                return Fault(call, None, drop=True)
        return original(name)

    standin._fault = fault  # type: ignore[method-assign]


def _audited(store: Store, action: str) -> int:
    with store.session() as session:
        return len(list(session.scalars(select(AuditEvent.id).where(AuditEvent.action == action))))


def test_a_process_killed_mid_upload_resumes(sqlite_store: Store, tmp_path: Path) -> None:
    """A real process, killed (SIGKILL) while its upload is on the wire: its lock dies with
    it, and the next submission retracts the report that may hold part of a file."""
    store = sqlite_store
    evidence = scan_evidence(store, tmp_path)
    report = draft(store, evidence)
    marker = tmp_path / "uploading"
    with served() as (standin, url):
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, sys.argv[1]); import submit_child; "
                "submit_child.main(*sys.argv[2:])",
                str(HERE),
                store.url,
                url,
                str(report),
                str(marker),
            ],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            deadline = time.monotonic() + 60
            while not marker.exists():
                assert child.poll() is None, "the child stopped before uploading"
                assert time.monotonic() < deadline, "the child never started uploading"
                time.sleep(0.05)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        assert report_view(store, report).state == "submitted"
        assert "uploading" in {f.state for f in report_view(store, report).files}
        with client(url) as api:
            view = submit_report(store, report, actor="alice", client=api)
    _check_outcome(standin, store, report, evidence)
    assert len(view.abandoned_report_ids) == 1 and standin.count("submit") == 2
