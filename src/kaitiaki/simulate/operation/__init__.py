"""A simulated provider export for a child-exploitation operation, with its ground truth.

``simulate_operation`` writes, under ``out_dir``:

- ``catalog.csv`` (object_id, md5, sha1, sha256, pdq) and ``hashset.json`` (VICS 2.0) flagging
  some objects, a few only by a nearby PDQ;
- ``accounts.csv`` (account_id, username, email, phone, device_id): people with several accounts
  linked by variously written emails, phones and device ids, plus junk values that link no one;
- ``records.{csv,jsonl,parquet}`` (timestamp, account_id, action, object_id, ip, port): access
  events from the people's countries' address ranges, mobile carriers' shared addresses, NAT
  leaks, shared VPN exits and trips abroad, with mixed UTC offsets, duplicates and malformed rows;
- ``ground_truth.json`` (and Parquet parts for big runs): see ``truth``.

The default scale generates in seconds; ``SCALES["model-case"]`` (90,000 flagged accounts among a
million, fifty million events) runs in bounded memory, a chunk of accounts at a time.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]

from kaitiaki.simulate.operation.addresses import plan_addresses
from kaitiaki.simulate.operation.catalog import build_catalog
from kaitiaki.simulate.operation.countries import COUNTRIES
from kaitiaki.simulate.operation.events import EventMaker, FlaggedEvents
from kaitiaki.simulate.operation.identities import build_identities
from kaitiaki.simulate.operation.noise import Noise, add_noise
from kaitiaki.simulate.operation.people import build_population
from kaitiaki.simulate.operation.truth import (
    GroundTruth,
    account_stats,
    junk_identifiers,
    load_ground_truth,
    objects_truth,
    people_truth,
    write_ground_truth,
)
from kaitiaki.simulate.operation.writers import FORMATS, RecordWriter


@dataclass(frozen=True)
class Scale:
    accounts: int
    flagged_accounts: int
    events: int
    formats: tuple[str, ...]


SCALES = {
    "small": Scale(2_000, 200, 50_000, ("csv",)),
    "model-case": Scale(1_000_000, 90_000, 50_000_000, ("parquet",)),
}
WINDOW = (
    int(datetime(2019, 1, 1, tzinfo=UTC).timestamp()),
    int(datetime(2021, 7, 1, tzinfo=UTC).timestamp()),
)
CHUNK_EVENTS = 2_000_000
ACCOUNT_COLUMNS = ("account_id", "username", "email", "phone", "device_id")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class OperationSample:
    """What was written, and the headline figures of the simulated operation."""

    out_dir: Path
    files: dict[str, Path]
    accounts: int
    persons: int
    flagged_accounts: int
    subjects: int
    events: int  # clean events
    rows: int  # rows written, duplicates and malformed rows included
    duplicate_rows: int
    malformed_rows: int
    countries: int
    objects: int
    seconds: float
    extra: dict[str, int] = field(default_factory=dict)


def _noop(stage: str, done: int, total: int) -> None:
    return None


def _chunks(events: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Account ranges holding about ``size`` events each."""
    bounds = np.searchsorted(np.cumsum(events), np.arange(size, int(events.sum()), size))
    edges = [0, *sorted(set((bounds + 1).tolist())), len(events)]
    return [(lo, hi) for lo, hi in itertools.pairwise(edges) if hi > lo]


def simulate_operation(
    out_dir: Path,
    *,
    accounts: int = SCALES["small"].accounts,
    flagged_accounts: int = SCALES["small"].flagged_accounts,
    events: int = SCALES["small"].events,
    seed: int = 0,
    formats: tuple[str, ...] = ("csv",),
    objects: int | None = None,
    progress: Progress = _noop,
) -> OperationSample:
    """Generate the export and its ground truth under ``out_dir`` (deterministic by ``seed``)."""
    started = time.perf_counter()
    if set(formats) - set(FORMATS) or not formats:
        raise ValueError(f"formats must be among {FORMATS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    progress("people", 0, 1)
    pop = build_population(rng, accounts, flagged_accounts, events, WINDOW)
    progress("addresses", 0, 1)
    addresses = plan_addresses(rng, pop)
    progress("identifiers", 0, 1)
    ids = build_identities(rng, pop)
    shuffled = rng.permutation(pop.accounts)
    accounts_table = pa.table(
        {name: [getattr(ids, name)[a] for a in shuffled.tolist()] for name in ACCOUNT_COLUMNS}
    )
    pacsv.write_csv(
        accounts_table, out_dir / "accounts.csv", pacsv.WriteOptions(quoting_style="needed")
    )
    n_objects = objects or int(np.clip(events // 20, 1_000, 500_000))
    progress("catalog", 0, 1)
    catalog = build_catalog(rng, n_objects, out_dir)

    maker = EventMaker(rng, pop, addresses, catalog, pa.array(ids.account_id, pa.string()))
    flagged, noise, rows = FlaggedEvents(), Noise(), 0
    with RecordWriter(out_dir, formats) as writer:
        for lo, hi in _chunks(pop.account_events, CHUNK_EVENTS):
            table = add_noise(rng, maker.chunk(lo, hi, flagged), rows + 1, noise)
            writer.write(table)
            rows += table.num_rows
            progress("events", int(pop.account_events[:hi].sum()), events)
        files = {f"records.{fmt}": path for fmt, path in writer.paths.items()}

    progress("ground truth", 0, 1)
    person_ids = [f"P{p + 1:07d}" for p in range(pop.persons)]
    flagged_objects, non_pertinent = objects_truth(catalog)
    counts = {
        "accounts": pop.accounts,
        "persons": pop.persons,
        "flagged_accounts": int(pop.account_flagged.sum()),
        "subjects": int(pop.subject.sum()),
        "vpn_subjects": int((pop.subject & pop.vpn).sum()),
        "events": int(pop.account_events.sum()),
        "rows": rows,
        "objects": n_objects,
        "countries": len(np.unique(pop.country)),
    }
    summary: dict[str, object] = {
        "seed": seed,
        **counts,
        "window_utc": [WINDOW[0], WINDOW[1]],
        "formats": list(writer.paths),
    }
    truth = GroundTruth(
        summary=summary,
        people=people_truth(pop, ids, maker.travel_events, person_ids),
        flagged_accounts=account_stats(flagged, ids.account_id, person_ids, pop),
        malformed_rows=noise.malformed,
        duplicate_rows=noise.duplicates,
        flagged_objects=flagged_objects,
        non_pertinent_objects=non_pertinent,
        junk_identifiers=junk_identifiers(),
        dot_traps=[[ids.account_id[a], ids.account_id[b]] for a, b in ids.dot_traps],
    )
    files["ground_truth.json"] = write_ground_truth(truth, out_dir)
    for name in ("accounts.csv", "catalog.csv", "hashset.json"):
        files[name] = out_dir / name
    return OperationSample(
        out_dir=out_dir,
        files=files,
        accounts=pop.accounts,
        persons=pop.persons,
        flagged_accounts=counts["flagged_accounts"],
        subjects=counts["subjects"],
        events=counts["events"],
        rows=rows,
        duplicate_rows=len(noise.duplicates),
        malformed_rows=len(noise.malformed),
        countries=counts["countries"],
        objects=n_objects,
        seconds=time.perf_counter() - started,
        extra={"vpn_subjects": counts["vpn_subjects"], "country_table": len(COUNTRIES)},
    )


__all__ = [
    "SCALES",
    "GroundTruth",
    "OperationSample",
    "Scale",
    "load_ground_truth",
    "simulate_operation",
]
