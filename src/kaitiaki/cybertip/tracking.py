"""What the sending of a CyberTipline report stands on: the report as committed, the one lock
a submission holds, and the evidence a file is streamed from.

The lock answers the question a state column cannot: is a report found mid-call ("submitting",
a file "uploading") being worked on right now, or was its worker killed? It is held by the
process for as long as it works on the report and dies with it: a PostgreSQL session advisory
lock (released when the connection closes) or, on SQLite, ``flock`` on a file beside the
database (released when the file is closed, by the kernel if the process dies). So whoever
holds it may resume any step it finds unfinished, and whoever cannot take it loses gracefully.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text

from kaitiaki.content.readback import SEPARATOR, ContentUnavailableError, read_instance
from kaitiaki.cybertip.errors import CyberTipConflictError, CyberTipNotFoundError
from kaitiaki.cybertip.reports import ReportView, get_report
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport, CyberTipReportFile

_CHUNK = 1 << 20
_local_locks: dict[tuple[str, int], threading.Lock] = {}
_local_guard = threading.Lock()


class CyberTipBusyError(CyberTipConflictError):
    """Another process or thread is sending or retracting this report right now."""


def load(store: Store, report_id: int) -> tuple[CyberTipReport, list[CyberTipReportFile]]:
    """The report row and its files, as committed now (detached copies)."""
    with store.session() as session:
        row = session.get(CyberTipReport, report_id)
        if row is None:
            raise CyberTipNotFoundError(f"no CyberTipline report {report_id}")
        files = list(
            session.scalars(
                select(CyberTipReportFile)
                .where(CyberTipReportFile.report_id == report_id)
                .order_by(CyberTipReportFile.id)
            )
        )
        session.expunge_all()
    return row, files


def report_view(store: Store, report_id: int, note: str = "") -> ReportView:
    return get_report(store, report_id, note)


@contextmanager
def exclusive(store: Store, report_id: int) -> Iterator[None]:
    """Hold the report's submission lock, or raise ``CyberTipBusyError`` at once."""
    busy = CyberTipBusyError(
        f"report {report_id} is being sent or retracted by another process; try again later"
    )
    if store.engine.dialect.name == "postgresql":
        # Advisory locks are database-wide: the key names the schema too, so stores in two
        # schemas of one database never block each other.
        key = text(
            "SELECT hashtextextended('kaitiaki.cybertip:' || current_schema() || ':' || :id, 0)"
        )
        with store.engine.connect() as connection:
            lock_key = connection.execute(key, {"id": str(report_id)}).scalar()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key}
            ).scalar()
            connection.commit()  # a session lock: no transaction is left open meanwhile
            if not got:
                raise busy
            try:
                yield
            finally:
                try:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key})
                    connection.commit()
                except Exception:
                    # Never hand a connection still holding the lock back to the pool.
                    connection.invalidate()
                    raise
        return
    database = store.engine.url.database
    if not database or database == ":memory:":
        with _local_guard:
            lock = _local_locks.setdefault((store.url, report_id), threading.Lock())
        if not lock.acquire(blocking=False):
            raise busy
        try:
            yield
        finally:
            lock.release()
        return
    folder = Path(f"{database}.cybertip-locks")
    folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / f"{report_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            # flock locks belong to the open file: two threads of one process exclude each
            # other as two processes do.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Upload:
    """A file ready to stream to NCMEC: its name on the form, its size, and its chunks."""

    name: str
    size: int
    chunks: Callable[[], Iterator[bytes]]


ReadFile = Callable[[str, str], Upload]


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


def evidence_upload(path: str, sha256: str) -> Upload:
    """The evidence instance at ``path``, checked against ``sha256`` first.

    A file on disk is hashed in one streamed pass and then streamed again to NCMEC, never
    copied or held whole in memory; NCMEC's MD5 of what it received is then checked against
    the evidence's, which catches a file changed between the two passes. An archive member is
    read back as the viewer reads it (``read_instance``, under the same limits)."""
    name = path.rsplit(SEPARATOR, 1)[-1].rsplit("/", 1)[-1] or "file"
    if SEPARATOR in path:
        data = read_instance(path, sha256)
        return Upload(name, len(data), lambda: iter((data,)))
    source = Path(path)
    digest, size = hashlib.sha256(), 0
    try:
        for chunk in _read_chunks(source):
            digest.update(chunk)
            size += len(chunk)
    except FileNotFoundError:
        raise ContentUnavailableError(
            404, f"{path}: the evidence file is not on this server"
        ) from None
    except OSError as exc:
        raise ContentUnavailableError(409, f"{path}: unreadable ({exc.strerror})") from None
    if digest.hexdigest() != sha256:
        raise ContentUnavailableError(409, f"{path}: the content no longer matches its SHA-256")
    return Upload(name, size, lambda: _read_chunks(source))
