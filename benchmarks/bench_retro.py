"""bench_retro: retroactive matching of a hash set's new PDQ entries against every stored file.

Target (issue 15): 1,000,000 stored files, 100,000 new PDQ entries, the report in under 60 s on
a 2-core machine. Files are stored as a scan leaves them (eight dihedral hashes each, quality
100, one instance each in one evidence item); 1% of the entries are a file's rotation with
0-31 bits flipped (each finds its file), the rest uniform random.

    uv run python benchmarks/bench_retro.py [--files 1000000] [--entries 100000]
        [--route auto|entries|files] [--db URL]

Without ``--db`` a SQLite store in a temporary folder is used. ``--route`` forces one of the two
PDQ routes (``kaitiaki.match.retro_pdq``) to compare them; ``auto`` lets the planner choose.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from kaitiaki.hashsets.derived import write_hash_set
from kaitiaki.hashsets.entry import Entry
from kaitiaki.match import retro_pdq
from kaitiaki.match.retro import retro_match
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import Evidence, File, FileInstance

BATCH = 20_000
NEAR_SHARE = 0.01


def _hex(rows: np.ndarray) -> list[str]:
    return [r.tobytes().hex() for r in rows]


def fill(store: Store, files: int, seed: int) -> np.ndarray:
    """``files`` stored files with random dihedral hashes; returns their hashes (files, 8, 32)."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (files, 8, 32), dtype=np.uint8)
    with store.session() as session:
        evidence = Evidence(name="bench", description="bench_retro")
        session.add(evidence)
        session.flush()
        for start in range(0, files, BATCH):
            rows, instances = [], []
            for n in range(start, min(files, start + BATCH)):
                sha = f"{n:064x}"
                dihedral = _hex(hashes[n])
                rows.append(
                    {
                        "sha256": sha,
                        "md5": f"{n:032x}",
                        "sha1": f"{n:040x}",
                        "size": 1,
                        "kind": "image",
                        "mime": "image/jpeg",
                        "pdq": dihedral[0],
                        "pdq_quality": 100,
                        "pdq_dihedral": " ".join(dihedral),
                    }
                )
                instances.append(
                    {"evidence_id": evidence.id, "path": f"/{n}.jpg", "source": "/", "sha256": sha}
                )
            session.execute(insert(File), rows)
            session.execute(insert(FileInstance), instances)
    return hashes


def entries(hashes: np.ndarray, count: int, seed: int) -> list[Entry]:
    rng = np.random.default_rng(seed + 1)
    out = rng.integers(0, 256, (count, 32), dtype=np.uint8)
    near = int(count * NEAR_SHARE)
    files = rng.integers(0, len(hashes), near)
    for k, f in enumerate(files):
        bits = rng.choice(256, int(rng.integers(0, 32)), replace=False)
        row = hashes[f, int(rng.integers(0, 8))].copy()
        for b in bits:
            row[b // 8] ^= np.uint8(1 << (b % 8))
        out[k] = row
    return [Entry(pdq=h) for h in _hex(out)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--route", choices=["auto", "entries", "files"], default="auto")
    parser.add_argument("--db", default=None)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-retro-"))
    store = open_store(args.db or f"sqlite:///{folder / 'kaitiaki.db'}")
    started = time.perf_counter()
    hashes = fill(store, args.files, args.seed)
    with store.session() as session:
        write_hash_set(
            session,
            "bench",
            entries(hashes, args.entries, args.seed),
            profile="none",
            source="bench",
            source_format="list",
            source_sha256=None,
            actor="bench",
        )
    print(
        f"filled {args.files:,} files, {args.entries:,} entries in "
        f"{time.perf_counter() - started:.1f} s"
    )
    if args.route != "auto":
        forced = args.route
        retro_pdq.choose_route = lambda *_: forced  # type: ignore[assignment]
    print("route:", retro_pdq.choose_route(args.files, args.entries, 31))
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        marks.setdefault(stage, time.perf_counter())

    started = time.perf_counter()
    report = retro_match(store, "bench", actor="bench", on_progress=progress)
    elapsed = time.perf_counter() - started
    for stage, at in marks.items():
        print(f"  {stage:10s} from {at - started:6.1f} s")
    print(
        f"retro_match: {elapsed:.1f} s; {report.files_checked:,} files read, "
        f"{report.matches_added:,} matches, {report.files_now_known:,} files now known "
        f"(expected about {int(args.entries * NEAR_SHARE):,})"
    )
    store.close()


if __name__ == "__main__":
    main()
