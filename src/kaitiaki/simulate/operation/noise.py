"""What real exports also contain: exact duplicate rows and malformed rows.

Both are extra rows mixed into a chunk of clean events: a duplicate repeats a clean row exactly
(an analysis must count it once); a malformed row is a clean row with one field broken (an
analysis must reject it). The ground truth lists their 1-based data row numbers, which are the
same in every format written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from kaitiaki.simulate.operation.events import SCHEMA

DUPLICATE_RATE = 0.001
MALFORMED_RATE = 0.001
BROKEN = {
    "bad timestamp": (
        "timestamp",
        (
            "2020-13-45T25:61:00Z",
            "yesterday",
            "",
            "0000-00-00T00:00:00Z",
            "2020-02-30T10:00:00+13:00",
        ),
    ),
    "missing account_id": ("account_id", (None,)),
    "unknown action": ("action", ("delete", "login", "like", "")),
    "invalid ip": ("ip", ("999.1.2.3", "not-an-ip", "2001:db8::zz", "1.2.3", "", "10.0.0.300")),
}


@dataclass
class Noise:
    malformed: dict[int, str] = field(default_factory=dict)  # row number -> reason
    duplicates: list[int] = field(default_factory=list)  # row numbers of the second copies


def add_noise(rng: np.random.Generator, clean: pa.Table, first_row: int, noise: Noise) -> pa.Table:
    """``clean`` with duplicates and malformed rows mixed in; rows number from ``first_row``."""
    n = clean.num_rows
    dup = rng.choice(n, size=int(rng.binomial(n, DUPLICATE_RATE)), replace=False)
    bad = rng.choice(n, size=int(rng.binomial(n, MALFORMED_RATE)), replace=False)
    reasons = list(BROKEN)
    broken_rows, why = [], []
    for row in clean.take(pa.array(bad, pa.int64())).to_pylist():
        reason = reasons[int(rng.integers(len(reasons)))]
        column, values = BROKEN[reason]
        row[column] = values[int(rng.integers(len(values)))]
        broken_rows.append(row)
        why.append(reason)
    table = pa.concat_tables(
        [
            clean,
            clean.take(pa.array(dup, pa.int64())),
            pa.Table.from_pylist(broken_rows, schema=SCHEMA),
        ]
    )
    order = rng.permutation(table.num_rows)
    position = np.empty_like(order)
    position[order] = np.arange(len(order))  # where each row of ``table`` ends up
    rows = first_row + position
    for original, copy in zip(dup.tolist(), range(n, n + len(dup)), strict=True):
        noise.duplicates.append(int(max(rows[original], rows[copy])))
    for k, reason in enumerate(why):
        noise.malformed[int(rows[n + len(dup) + k])] = reason
    return table.take(pa.array(order))
