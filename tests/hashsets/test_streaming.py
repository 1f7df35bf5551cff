"""A national set is a multi-GB single JSON document: importing one must not load it whole."""

from __future__ import annotations

import base64
import random
import time
import tracemalloc
from pathlib import Path

import pytest
from hashset_samples import v2_context

from kaitiaki.hashsets import store as hs
from kaitiaki.store import Store

TARGET_BYTES = 50 << 20


def write_large_vics(path: Path, target: int) -> int:
    """A flat VICS 2.0 set of about ``target`` bytes, written record by record."""
    rnd = random.Random(11)
    # Long text fields make the bytes per record realistic for case exports (~1 KB) while
    # keeping the number of records, and so the test's time under tracemalloc, moderate.
    comment = "synthetic examiner note; " * 16
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('\ufeff{"@odata.context":"' + v2_context("US") + '","value":[')
        while out.tell() < target:
            count += 1
            pdna = base64.b64encode(rnd.randbytes(144)).decode("ascii")
            out.write(
                f'{"," if count > 1 else ""}\n{{"MediaID":{count},"Category":{count % 5},'
                f'"MD5":"{rnd.getrandbits(128):032X}","SHA1":"{rnd.getrandbits(160):040X}",'
                f'"PhotoDNA":"{pdna}","VictimIdentified":"{"true" if count % 9 else "false"}",'
                f'"IsDistributed":"false","Series":"synthetic-{count % 97}",'
                f'"MediaSize":{rnd.randrange(1, 1 << 30)},"DateUpdated":"2024-01-02T03:04:05Z",'
                f'"MimeType":"image/jpeg","MediaFiles":[{{"FileName":"f{count}.jpg",'
                f'"FilePath":"C:\\\\Users\\\\x\\\\Pictures\\\\f{count}.jpg"}}],'
                f'"Comments":"{comment}"}}'
            )
        out.write("\n]}")
    return count


@pytest.mark.slow
def test_import_memory_stays_bounded(sqlite_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "national.json"
    count = write_large_vics(path, TARGET_BYTES)
    size = path.stat().st_size
    started = time.monotonic()
    tracemalloc.start()
    try:
        row = hs.import_hash_set(sqlite_store, path, "national", actor="cli:tester")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    assert row.entry_count == count
    # Peak Python allocations stay a small fraction of the file (one batch of rows at a time);
    # loading the document whole would take several times its size.
    assert peak < size / 5, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB file"
    print(f"{count} entries, {size / 2**20:.0f} MiB, peak {peak / 2**20:.1f} MiB, {elapsed:.1f} s")
