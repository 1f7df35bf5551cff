"""A served bank's base index on disk: built once per machine, mapped by every process.

A base holds a set's PDQ entries up to one entry id (its ``through``) as of one count of
removals (``hashsets.versions``). Its folder name says both, ``serve-<set>-r<removals>-t<through>``,
so any process can tell from a listing whether a base fits. It is written aside and renamed into
place (a reader never sees half a base), by one process at a time (an advisory file lock; the
others wait for it and map the result instead of building their own copy). Old bases are
deleted once a newer one exists: a process still mapping one keeps its pages until it lets go
(POSIX unlink semantics), so deleting never pulls an index from under a lookup.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.index.pdq import PdqIndex, hex_to_bytes
from kaitiaki.store.models import HashSetEntry

_NAME = re.compile(r"serve-(\d+)-r(\d+)-t(\d+)")
_EMPTY = "empty"
# Rows read from the store per round trip while building: bounds memory to the arrays.
READ_CHUNK = 200_000


@dataclass(frozen=True, slots=True)
class Base:
    index: PdqIndex | None  # None: the set held no PDQ hash up to ``through``
    through: int
    size: int
    built_at: float  # epoch seconds the folder was written
    path: Path | None


def read_pdq_rows(
    session: Session, set_id: int, after: int, limit: int | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.int64], int]:
    """The set's PDQ entries with id > ``after`` in id order, as (hashes, ids, highest id)."""
    query = (
        select(HashSetEntry.id, HashSetEntry.pdq)
        .where(
            HashSetEntry.hash_set_id == set_id,
            HashSetEntry.id > after,
            HashSetEntry.pdq.is_not(None),
        )
        .order_by(HashSetEntry.id)
        .execution_options(yield_per=READ_CHUNK)
    )
    if limit is not None:
        query = query.limit(limit)
    hashes: list[NDArray[np.uint8]] = []
    ids: list[NDArray[np.int64]] = []
    for part in session.execute(query).partitions():
        ids.append(np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part)))
        hashes.append(hex_to_bytes([str(r[1]) for r in part]))
    if not ids:
        return np.empty((0, 32), np.uint8), np.empty(0, np.int64), after
    all_ids = np.concatenate(ids)
    return np.concatenate(hashes), all_ids, int(all_ids[-1])


def _parse(path: Path) -> tuple[int, int, int] | None:
    found = _NAME.fullmatch(path.name)
    return None if found is None else (int(found[1]), int(found[2]), int(found[3]))


def newest_base(cache: Path, set_id: int, removals: int) -> Path | None:
    """The base folder of ``set_id`` at ``removals`` that reaches furthest, if any."""
    best: tuple[int, Path] | None = None
    for path in cache.glob(f"serve-{set_id}-r{removals}-t*"):
        parsed = _parse(path)
        if parsed is not None and (best is None or parsed[2] > best[0]):
            best = (parsed[2], path)
    return None if best is None else best[1]


def open_base(path: Path) -> Base:
    """Map a base folder (OSError or ValueError when it vanished or is not a base)."""
    parsed = _parse(path)
    if parsed is None:
        raise ValueError(f"{path} is not a served index folder")
    built_at = path.stat().st_mtime
    if (path / _EMPTY).exists():
        return Base(None, parsed[2], 0, built_at, path)
    index = PdqIndex.load(path, mmap=True)
    return Base(index, parsed[2], len(index), built_at, path)


@contextmanager
def _locked(cache: Path, set_id: int) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"serve-{set_id}.lock").open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_base(
    session: Session, cache: Path | None, set_id: int, removals: int, at_least: int
) -> Base:
    """A base of the set reaching at least entry ``at_least``: one already on disk (perhaps
    just written by another process while this one waited for the lock), or a new one."""
    if cache is None:
        hashes, ids, through = read_pdq_rows(session, set_id, 0)
        index = PdqIndex.build(hashes, ids) if len(ids) else None
        return Base(index, through, len(ids), time.time(), None)
    with _locked(cache, set_id):
        found = newest_base(cache, set_id, removals)
        parsed = None if found is None else _parse(found)
        if found is not None and parsed is not None and parsed[2] >= at_least:
            return open_base(found)
        hashes, ids, through = read_pdq_rows(session, set_id, 0)
        path = cache / f"serve-{set_id}-r{removals}-t{through}"
        tmp = cache / f".{path.name}.{time.time_ns()}.tmp"
        if len(ids):
            PdqIndex.build(hashes, ids).save(tmp)
        else:
            tmp.mkdir(parents=True)
            (tmp / _EMPTY).touch()
        del hashes, ids  # the mapped copy below is what stays; free the built one first
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
        _forget_old(cache, set_id, keep=path)
        return open_base(path)


def _forget_old(cache: Path, set_id: int, keep: Path) -> None:
    # A newer base exists: delete the others. A process mapping one keeps its pages (POSIX
    # unlink), and one that listed it but had not opened it yet lists again.
    for path in cache.glob(f"serve-{set_id}-r*-t*"):
        if path != keep:
            shutil.rmtree(path, ignore_errors=True)


def forget_set(cache: Path | None, set_id: int) -> None:
    """Drop every served base of a removed set."""
    if cache is None or not cache.exists():
        return
    for path in cache.glob(f"serve-{set_id}-*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def build_base_apart(
    url: str, cache: Path, set_id: int, removals: int, at_least: int, timeout: float = 3600
) -> Base:
    """``build_base`` in a child process, then mapped here. A server builds this way: reading
    a million rows and building their tables holds the interpreter lock for seconds, which in
    the server's own process would stall every lookup meanwhile; apart, lookups go on (the
    child only takes CPU). Raises OSError when the child fails."""
    args = [url, str(set_id), str(removals), str(at_least)]
    done = subprocess.run(
        [sys.executable, "-m", "kaitiaki.match.index_files", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise OSError(f"building the index of set {set_id} failed: {done.stderr[-2000:]}")
    return open_base(cache / done.stdout.strip().splitlines()[-1])


def _main(argv: list[str]) -> int:
    from kaitiaki.match.indexes import index_cache_dir
    from kaitiaki.store import open_store

    url, set_id, removals, at_least = argv[0], *(int(a) for a in argv[1:4])
    cache = index_cache_dir(url)
    if cache is None:
        raise SystemExit("an in-memory store has no index folder")
    store = open_store(url, migrate=False)
    try:
        with store.session() as session:
            base = build_base(session, cache, set_id, removals, at_least)
    finally:
        store.close()
    assert base.path is not None
    print(base.path.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
