"""Each hash set's PDQ index (and robust index, for sets that carry robust signatures), built
once from the store and then memory-mapped from disk.

An index is keyed by the set's id, import time, source digest and version (bumped by every
change to its entries): the first scan or match builds and saves it; later ones open it in
milliseconds instead of reading millions of rows again. (Servers keep theirs current without
rebuilding: ``match.serving``.) The
cache sits beside a SQLite store (``kaitiaki.db.pdq-index/``) or, for a server database, under
``$KAITIAKI_INDEX_CACHE`` (default ``~/.cache/kaitiaki/pdq-index/<hash of the URL>``). It is
only a cache: deleting it costs one rebuild.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from kaitiaki.index.pdq import PdqIndex, hex_to_bytes
from kaitiaki.index.robust import RobustIndex
from kaitiaki.signals import robust as robust_signal
from kaitiaki.signals.base import SignalError
from kaitiaki.store.models import HashSet, HashSetEntry

_EMPTY = "empty"


def index_cache_dir(url: str) -> Path | None:
    """Where the indexes of the store at ``url`` are kept; None for an in-memory store."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            return None
        return Path(f"{database}.pdq-index")
    root = os.environ.get("KAITIAKI_INDEX_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kaitiaki" / "pdq-index"
    )
    return Path(root) / hashlib.sha256(url.encode()).hexdigest()[:16]


def _key(row: HashSet) -> str:
    # The version moves with every change to the entries (``hashsets.versions``), so another
    # process's or machine's change is never served from a stale file; the import time and
    # source digest tell a set apart from an earlier one that had the same id.
    stamp = int(row.imported_at.timestamp() * 1_000_000)
    digest = (row.source_sha256 or "none")[:16]
    return f"set-{row.id}-{stamp}-{digest}-v{row.version}"


def _build(session: Session, row: HashSet) -> PdqIndex | None:
    rows = session.execute(
        select(HashSetEntry.id, HashSetEntry.pdq).where(
            HashSetEntry.hash_set_id == row.id, HashSetEntry.pdq.is_not(None)
        )
    ).all()
    if not rows:
        return None
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return PdqIndex.build(hex_to_bytes([str(r[1]) for r in rows]), ids)


def set_index(session: Session, row: HashSet, cache: Path | None) -> PdqIndex | None:
    """The PDQ index of one hash set (None when it lists no PDQ hash)."""
    if cache is None:
        return _build(session, row)
    path = cache / _key(row)
    if (path / _EMPTY).exists():
        return None
    try:
        return PdqIndex.load(path)
    except (OSError, ValueError):
        pass  # not built yet, or left half-written by a killed process: build it again
    index = _build(session, row)
    try:
        for stale in cache.glob(f"set-{row.id}-*"):
            if stale != path:
                shutil.rmtree(stale, ignore_errors=True)
        if index is None:
            path.mkdir(parents=True, exist_ok=True)
            (path / _EMPTY).touch()
        else:
            cache.mkdir(parents=True, exist_ok=True)
            index.save(path)
    except OSError:
        pass  # a read-only or full disk only costs the next run a rebuild
    return index


def _build_robust(session: Session, row: HashSet) -> RobustIndex | None:
    rows = session.execute(
        select(HashSetEntry.id, HashSetEntry.robust).where(
            HashSetEntry.hash_set_id == row.id, HashSetEntry.robust.is_not(None)
        )
    )
    ids, signatures = robust_signal.readable((int(i), data) for i, data in rows)
    if not ids:
        return None
    index = RobustIndex()
    index.add(ids, signatures)
    return index


def set_robust_index(session: Session, row: HashSet, cache: Path | None) -> RobustIndex | None:
    """The robust index of one hash set (None when no entry carries a robust signature):
    rebuilt only when the set changed, as the PDQ index is (a million signatures take minutes
    to read and index, and a mapped index opens at once)."""
    if cache is None:
        return _build_robust(session, row)
    path = cache / f"robust-{_key(row)}"
    if (path / _EMPTY).exists():
        return None
    try:
        return RobustIndex.load(path)
    except SignalError:
        pass  # not built yet, or left half-written by a killed process: build it again
    index = _build_robust(session, row)
    try:
        for stale in cache.glob(f"robust-set-{row.id}-*"):
            if stale != path:
                shutil.rmtree(stale, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
        if index is None:
            (path / _EMPTY).touch()
        else:
            index.save(path)
    except OSError:
        pass  # a read-only or full disk only costs the next run a rebuild
    return index
