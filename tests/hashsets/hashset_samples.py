"""Synthetic VICS documents for the hash-set tests: generated hashes, no real material."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import sqlalchemy as sa

from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry

V1_MEDIA = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media"
V1_CASES = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases"


def v2_context(region: str = "US", kind: str = "Media") -> str:
    return (
        f"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{region}/$metadata#{kind}"
    )


def media(i: int, rnd: random.Random | None = None, **fields: Any) -> dict[str, Any]:
    """A Media record the way distributions write it: uppercase MD5, string booleans."""
    rnd = rnd or random.Random(i)
    record: dict[str, Any] = {
        "MediaID": i,
        "Category": i % 5,
        "MD5": f"{rnd.getrandbits(128):032X}",
        "SHA1": f"{rnd.getrandbits(160):040X}",
        "MediaSize": rnd.randrange(1, 1 << 24),
        "DateUpdated": "2023-06-07T02:31:49.8300Z",
        "IsPrecategorized": "false",
        "VictimIdentified": "true" if i % 3 == 0 else "false",
    }
    record.update(fields)
    return record


def photodna(rnd: random.Random) -> str:
    return base64.b64encode(rnd.randbytes(144)).decode("ascii")


def vics_text(
    records: list[Any],
    *,
    context: str | None = None,
    key: str = "@odata.context",
    cases: bool = False,
    indent: int | None = None,
) -> str:
    if cases:
        context = context or v2_context("US", "Cases")
        value: list[Any] = [{"CaseID": "case-1", "SourceApplicationName": "test", "Media": records}]
    else:
        context = context or v2_context()
        value = records
    return json.dumps({key: context, "value": value}, indent=indent)


def row_counts(store: Store) -> tuple[int, int]:
    """(hash sets, entries) in the store: what an aborted import must leave at (0, 0)."""
    with store.session() as session:
        sets = session.scalar(sa.select(sa.func.count()).select_from(HashSet)) or 0
        entries = session.scalar(sa.select(sa.func.count()).select_from(HashSetEntry)) or 0
    return sets, entries
