"""Flagging a provider's catalog says which known series it met and whether the victim is known."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kaitiaki.hashsets.store import import_hash_set
from kaitiaki.operation.flag import SeriesMet, flag_catalog
from kaitiaki.store import Store

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def _md5(n: int) -> str:
    return f"{n:032X}"


def _vics(path: Path, media: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"@odata.context": CONTEXT, "value": media}), encoding="utf-8")
    return path


def test_series_met_unidentified_first_and_disagreement_kept_open(
    store: Store, tmp_path: Path
) -> None:
    media = [
        # Series A: every source says the victim is identified.
        {"MediaID": 1, "MD5": _md5(1), "Category": 1, "Series": "A", "VictimIdentified": "true"},
        {"MediaID": 2, "MD5": _md5(2), "Category": 1, "Series": "A", "VictimIdentified": True},
        # Series B: not identified — a child still to be found.
        {"MediaID": 3, "MD5": _md5(3), "Category": 1, "Series": "B", "VictimIdentified": "false"},
        # Series C: one source says yes, one is silent: not settled.
        {"MediaID": 4, "MD5": _md5(4), "Category": 2, "Series": "C", "VictimIdentified": "true"},
        {"MediaID": 5, "MD5": _md5(5), "Category": 2, "Series": "C"},
        # Non-pertinent material in a series flags nothing and meets no series.
        {"MediaID": 6, "MD5": _md5(6), "Category": 0, "Series": "D", "VictimIdentified": "false"},
    ]
    import_hash_set(store, _vics(tmp_path / "set.json", media), "national", actor="test")
    catalog = tmp_path / "catalog.parquet"
    rows = [
        {"object_id": f"o{n}", "md5": _md5(n).lower(), "sha1": None, "sha256": None, "pdq": None}
        for n in (1, 2, 3, 4, 5, 6, 99)
    ]
    pq.write_table(pa.Table.from_pylist(rows), catalog)

    result = flag_catalog(store, [catalog], tmp_path / "flagged.parquet")

    assert result.flagged == 5
    # Not (or not surely) identified first, larger first; identified last.
    assert result.series == (
        SeriesMet("C", 2, None),
        SeriesMet("B", 1, False),
        SeriesMet("A", 2, True),
    )
    written = pq.read_table(result.path).to_pylist()
    by_object = {r["object_id"]: (r["series"], r["victim_identified"]) for r in written}
    assert by_object == {
        "o1": ("A", True),
        "o2": ("A", True),
        "o3": ("B", False),
        "o4": ("C", True),
        "o5": ("C", None),
    }
