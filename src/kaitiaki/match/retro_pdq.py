"""The PDQ part of retroactive matching: new entries against every stored file's rotations.

A file meets an entry when one of its eight dihedral hashes (the rotations and flips a scan
asks with, from a picture whose PDQ quality reaches the floor) lies within the set's threshold;
the distance is the smallest over the eight. Two routes give exactly that answer:

* ``entries``: index the new entries and stream the files past the index, page by page. Cheap
  when the entries are few (a curation call, a small fetch): a query against a handful of
  hashes is a short scan, and memory stays one page.
* ``files``: index the files' hashes and ask it with each new entry. A range query costs far
  less than linearly in the indexed hashes, so when the new entries are many (an exchange's
  100,000-hash fetch against a million files: eight million file hashes) asking the big index
  100,000 times is over ten times cheaper than asking the small one eight million times, even
  counting the build.

``choose_route`` weighs the two with the index planner's own cost model (``index._plan``,
fitted on this project's benchmark machine). Queries run on a few threads: the kernels release
the GIL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from kaitiaki.index import PdqIndex, RangeResult

# The index's own cost model, to weigh the two routes as it weighs its tables against a scan.
from kaitiaki.index._plan import choose_layout, plan_query
from kaitiaki.index.pdq import HASH_BYTES, hex_to_bytes
from kaitiaki.match.matcher import PDQ_QUALITY_FLOOR, keep_strongest
from kaitiaki.match.retro_find import Found, Progress
from kaitiaki.store.models import File

Route = Literal["entries", "files"]
Page = tuple[list[str], NDArray[np.uint8], NDArray[np.int64]]
# Files per page of the stream: 8 hashes each, a few MB of text per page.
PAGE = 4096
DIHEDRAL = 8
# File hashes indexed at once on the ``files`` route (a million files' worth, ~1 GB with the
# index's tables); a bigger store is taken in batches, each asked with every entry.
FILES_BATCH = 8_000_000
# Nanoseconds to build the index per hash (measured: 2 million hashes in ~4 s on 2 cores).
COST_BUILD = 2000.0
# Queries per thread task: large enough to amortise the hand-over, small enough to share.
_QUERY_CHUNK = 2048
_HEX = 2 * HASH_BYTES


def pdq_files(session: Session) -> int:
    """How many stored files the PDQ pass reads (the progress total)."""
    return int(session.scalar(select(func.count()).select_from(File).where(*_usable())) or 0)


def choose_route(files: int, entries: int, threshold: int) -> Route:
    """The cheaper route by the planner's model; ties go to ``entries`` (less memory)."""
    queries = files * DIHEDRAL
    if queries == 0 or entries == 0:
        return "entries"
    by_entries = queries * _per_query(entries, threshold)
    batches = -(-queries // FILES_BATCH)
    batch = min(queries, FILES_BATCH)
    by_files = COST_BUILD * queries + batches * entries * _per_query(batch, threshold)
    return "files" if by_files < by_entries else "entries"


def find_pdq(
    session: Session,
    entry_ids: NDArray[np.int64],
    entry_hashes: NDArray[np.uint8],
    threshold: int,
    found: Found,
    *,
    route: Route | None = None,
    on_progress: Progress | None = None,
) -> int:
    """Every usable stored file against the entries; returns how many files were read."""
    if len(entry_ids) == 0:
        return 0
    total = pdq_files(session)
    route = route or choose_route(total, len(entry_ids), threshold)
    pages = _pages(session, total, on_progress)
    if route == "entries":
        index = PdqIndex.build(entry_hashes, entry_ids)
        checked = 0
        for shas, packed, owners in pages:
            result = query_threads(index, packed, threshold)
            _keep(found, result.ids, [shas[int(owners[q])] for q in result.query.tolist()], result)
            checked += len(shas)
        return checked
    checked = 0
    batch: list[Page] = []
    held = 0
    for page in pages:
        batch.append(page)
        held += len(page[1])
        checked += len(page[0])
        if held >= FILES_BATCH:
            _files_batch(batch, entry_ids, entry_hashes, threshold, found)
            batch, held = [], 0
    if held:
        _files_batch(batch, entry_ids, entry_hashes, threshold, found)
    return checked


def _files_batch(
    pages: list[Page],
    entry_ids: NDArray[np.int64],
    entry_hashes: NDArray[np.uint8],
    threshold: int,
    found: Found,
) -> None:
    """Index these pages' file hashes and ask the index with every entry."""
    shas: list[str] = []
    rows: list[NDArray[np.int64]] = []
    for page_shas, _, owners in pages:
        rows.append(owners + len(shas))
        shas.extend(page_shas)
    index = PdqIndex.build(np.concatenate([p[1] for p in pages]), np.concatenate(rows))
    result = query_threads(index, entry_hashes, threshold)
    # Here the query is the entry and the stored id the file's row.
    _keep(found, entry_ids[result.query], [shas[int(r)] for r in result.ids.tolist()], result)


def query_threads(index: PdqIndex, queries: NDArray[np.uint8], threshold: int) -> RangeResult:
    """``index.query`` over chunks of ``queries`` on a few threads, as one result."""
    starts = range(0, len(queries), _QUERY_CHUNK)
    if len(starts) <= 1:
        return index.query(queries, threshold)

    def one(start: int) -> RangeResult:
        return index.query(queries[start : start + _QUERY_CHUNK], threshold)

    with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 8)) as pool:
        parts = list(pool.map(one, starts))
    return RangeResult(
        np.concatenate([p.query + s for p, s in zip(parts, starts, strict=True)]),
        np.concatenate([p.ids for p in parts]),
        np.concatenate([p.distance for p in parts]),
    )


def _keep(
    found: Found, entry_ids: NDArray[np.int64], shas: Sequence[str], result: RangeResult
) -> None:
    for entry_id, sha256, distance in zip(
        entry_ids.tolist(), shas, result.distance.tolist(), strict=True
    ):
        keep_strongest(found.setdefault(sha256, {}), int(entry_id), "pdq", int(distance))


def _per_query(n: int, threshold: int) -> float:
    """Modelled nanoseconds of one query against an index of ``n`` random hashes."""
    plan = plan_query(choose_layout(n, threshold), n, threshold)
    return min(plan.cost_ns, plan.scan_ns)


def _usable() -> list[ColumnElement[bool]]:
    # What a scan would ask with (``matcher._usable``): the dihedral hashes of a picture whose
    # PDQ quality reaches the floor; a low-quality hash matches too much to be evidence.
    return [File.pdq_dihedral.is_not(None), File.pdq_quality >= PDQ_QUALITY_FLOOR]


def _pages(session: Session, total: int, on_progress: Progress | None) -> Iterator[Page]:
    statement = select(File.sha256, File.pdq_dihedral).where(*_usable())
    read = 0
    for page in session.execute(statement.execution_options(yield_per=PAGE)).partitions():
        read += len(page)
        yield _parse_page(page)
        if on_progress is not None:
            on_progress("pdq", read, total)


def _parse_page(page: Sequence[Any]) -> Page:
    """The page's hashes as one (n, 32) array, with the page row each came from.

    The whole page is decoded in one ``bytes.fromhex`` (it skips the separating spaces); only
    when that fails is it decoded row by row, and a row that is not hex hashes is left out: it
    cannot match, and one damaged row must not stop the run over a million good ones.
    """
    shas = [str(r[0]) for r in page]
    texts = [str(r[1] or "") for r in page]
    counts = np.fromiter(((len(t) + 1) // (_HEX + 1) for t in texts), np.int64, len(texts))
    try:
        raw = bytes.fromhex(" ".join(texts))
        if len(raw) != int(counts.sum()) * HASH_BYTES:
            raise ValueError("a row is not whole hashes")
    except ValueError:
        return _parse_rows(shas, texts)
    packed = np.frombuffer(raw, dtype=np.uint8).reshape(-1, HASH_BYTES)
    return shas, packed, np.repeat(np.arange(len(texts), dtype=np.int64), counts)


def _parse_rows(shas: list[str], texts: list[str]) -> Page:
    chunks: list[NDArray[np.uint8]] = []
    owners: list[int] = []
    for i, text in enumerate(texts):
        try:
            hashes = hex_to_bytes(text.split())
        except ValueError:
            continue
        chunks.append(hashes)
        owners.extend([i] * len(hashes))
    packed = np.concatenate(chunks) if chunks else np.zeros((0, HASH_BYTES), np.uint8)
    return shas, packed, np.asarray(owners, dtype=np.int64)
