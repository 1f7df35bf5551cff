"""File-system times as TSK reports them, turned into UTC datetimes.

FAT keeps local wall-clock times with no zone, and TSK turns them into epoch seconds with
``mktime()``, which applies the process's zone: FAT walks run with the process clock in UTC, so
that the wall clock comes out labelled UTC whatever the examiner's zone is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from kaitiaki.content.archivebase import FsTimes

_CLOCK = threading.Lock()


def fs_times(meta: Any) -> FsTimes:
    """A TSK metadata entry's times in UTC; None where the file system keeps none."""
    return FsTimes(
        modified=_utc(meta.mtime, meta.mtime_nano),
        accessed=_utc(meta.atime, meta.atime_nano),
        changed=_utc(meta.ctime, meta.ctime_nano),
        created=_utc(meta.crtime, meta.crtime_nano),
    )


def _utc(seconds: int, nanoseconds: int) -> datetime | None:
    """TSK's 0 means "not kept"; values past what datetime holds (damaged entries) too."""
    if not seconds:
        return None
    try:
        return datetime.fromtimestamp(int(seconds), UTC).replace(
            microsecond=max(0, min(int(nanoseconds) // 1000, 999_999))
        )
    except (OverflowError, OSError, ValueError):
        return None


@contextmanager
def utc_clock() -> Iterator[None]:
    """Run with the process clock in UTC: TSK converts FAT's zone-less dates with mktime().

    The zone is the process's: two threads listing FAT images at once (scan jobs in the web
    server) take turns, or the second would put back the first one's UTC as the zone.
    """
    with _CLOCK:
        before = os.environ.get("TZ")
        os.environ["TZ"] = "UTC"
        time.tzset()
        try:
            yield
        finally:
            if before is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = before
            time.tzset()
