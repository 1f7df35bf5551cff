"""A submission in a process of its own that a test kills mid-upload (test_submit_crash)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from kaitiaki.cybertip.client import CyberTiplineClient
from kaitiaki.cybertip.submit import submit_report
from kaitiaki.cybertip.tracking import Upload, evidence_upload
from kaitiaki.store import open_store


def main(db: str, url: str, report: str, marker: str) -> None:
    def stalling(path: str, sha256: str) -> Upload:
        real = evidence_upload(path, sha256)

        def chunks() -> Iterator[bytes]:
            data = b"".join(real.chunks())
            yield data[: len(data) // 2]
            # Half the file is on the wire: say so, then wait to be killed.
            Path(marker).touch()
            time.sleep(120)
            yield data[len(data) // 2 :]

        return Upload(real.name, real.size, chunks)

    store = open_store(db)
    with CyberTiplineClient(url, "esp-test-user", "Not-A-Real-Password-7f3a9c") as api:
        submit_report(store, int(report), actor="alice", client=api, read_file=stalling)
