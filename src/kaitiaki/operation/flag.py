"""Which of a provider's stored objects are flagged: catalog hashes matched against hash sets.

An object is flagged when its hashes match an enabled hash set (exact, or PDQ within the set's
threshold) with a pertinent category under that set's profile, or when a reviewer flagged it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from kaitiaki.match import Matcher
from kaitiaki.store import Store

SCHEMA = pa.schema(
    [
        ("object_id", pa.string()),
        ("category", pa.string()),
        ("hash_set", pa.string()),
        ("signal", pa.string()),
        ("distance", pa.int32()),
        # The hash-set entry's victim-identification record, so the operation says at once
        # whether flagged material shows a child still to be found.
        ("series", pa.string()),
        ("victim_identified", pa.bool_()),
    ]
)
REVIEWER = "reviewer"
BATCH = 5000


@dataclass(frozen=True, slots=True)
class CatalogObject:
    object_id: str
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None


@dataclass(frozen=True, slots=True)
class SeriesMet:
    """A known series among the flagged objects; ``victim_identified`` None when sets disagree."""

    name: str
    objects: int
    victim_identified: bool | None


@dataclass(frozen=True, slots=True)
class FlagResult:
    checked: int
    flagged: int
    path: Path
    series: tuple[SeriesMet, ...] = ()


class ReviewerFlagsError(ValueError):
    """A reviewer-flags CSV that cannot be read; names the file, row and reason."""


def _reviewer_rows(path: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "object_id" not in reader.fieldnames:
            raise ReviewerFlagsError(f"{path}: needs an 'object_id' column")
        for number, row in enumerate(reader, 1):
            object_id = (row.get("object_id") or "").strip()
            if not object_id:
                raise ReviewerFlagsError(f"{path}: row {number}: empty object_id")
            category = (row.get("category") or "").strip() or None
            rows.append(
                {
                    "object_id": object_id,
                    "category": category,
                    "hash_set": REVIEWER,
                    "signal": REVIEWER,
                    "distance": None,
                    "series": None,
                    "victim_identified": None,
                }
            )
    return rows


def _series_met(
    objects: dict[str, set[str]], flags: dict[str, set[bool | None]]
) -> list[SeriesMet]:
    met = []
    for name, ids in objects.items():
        seen = flags[name]
        # Identified only when every source says so; one "no" or one silence leaves it open.
        status = True if seen == {True} else False if False in seen else None
        met.append(SeriesMet(name, len(ids), status))
    # Unidentified first: those are the children still to be found.
    return sorted(met, key=lambda m: (m.victim_identified is True, -m.objects, m.name))


def flag_catalog(
    store: Store,
    catalog: Sequence[Path],
    out: Path,
    *,
    hash_sets: Sequence[str] | None = None,
    reviewer_flags: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FlagResult:
    """Match every catalog object; write the flagged ones (one row per pertinent hit) to ``out``."""
    matcher = Matcher.load(store, hash_sets)
    dataset = ds.dataset([str(p) for p in catalog], format="parquet")
    total = dataset.count_rows()
    columns = ["object_id", "md5", "sha1", "sha256", "pdq"]
    checked = flagged = 0
    flagged_ids: set[str] = set()
    series_objects: dict[str, set[str]] = {}
    series_flags: dict[str, set[bool | None]] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(out, SCHEMA) as writer:
        for batch in dataset.to_batches(columns=columns, batch_size=BATCH):
            objects = [CatalogObject(**row) for row in batch.to_pylist()]
            rows: list[dict[str, object]] = []
            for item, hits in zip(objects, matcher.match_digests(objects), strict=True):
                for hit in hits:
                    if hit.pertinent and hit.counts:  # an allowlist's hits flag nothing
                        rows.append(
                            {
                                "object_id": item.object_id,
                                "category": hit.category,
                                "hash_set": hit.hash_set,
                                "signal": hit.signal,
                                "distance": hit.distance,
                                "series": hit.series,
                                "victim_identified": hit.victim_identified,
                            }
                        )
                        flagged_ids.add(item.object_id)
                        if hit.series:
                            series_objects.setdefault(hit.series, set()).add(item.object_id)
                            series_flags.setdefault(hit.series, set()).add(hit.victim_identified)
            if rows:
                writer.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
            checked += len(objects)
            if progress:
                progress(checked, total)
        if reviewer_flags is not None:
            reviewed = _reviewer_rows(reviewer_flags)
            flagged_ids.update(str(r["object_id"]) for r in reviewed)
            if reviewed:
                writer.write_table(pa.Table.from_pylist(reviewed, schema=SCHEMA))
    flagged = len(flagged_ids)
    return FlagResult(checked, flagged, out, tuple(_series_met(series_objects, series_flags)))
