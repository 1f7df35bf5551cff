"""A scan on Spark (local[2]) stores what a local scan of the same files stores."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from scan_samples import add_hash_set, md5, noise_image, pdq
from sqlalchemy import select

from kaitiaki.scan.runner import run_scan
from kaitiaki.scan.spark_scan import run_spark_scan
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import Classification, Evidence, File, FileInstance, Match

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _tree(root: Path, photos: dict[str, bytes]) -> None:
    files = {
        "DCIM/astronaut.jpg": photos["astronaut"],
        "DCIM/coffee.jpg": photos["coffee"],
        "DCIM/copy-of-astronaut.jpg": photos["astronaut"],
        "Downloads/unrelated.jpg": noise_image(1),
        "empty.bin": b"",
        "notes.txt": b"shopping list\n",
        "broken.jpg": photos["chelsea"][: len(photos["chelsea"]) // 3],
    }
    for name, payload in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(payload)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inside/rocket.jpg", photos["rocket"])
        archive.writestr("readme.txt", "hello")
    (root / "Downloads" / "bundle.zip").write_bytes(buffer.getvalue())
    (root / "outside-link").symlink_to("/etc/hostname")  # a walk error, recorded


def _hash_set(store: Store, photos: dict[str, bytes]) -> None:
    add_hash_set(
        store,
        "vics",
        [
            {"md5": md5(photos["astronaut"]), "category": "1", "media_id": "m-1"},
            {"md5": "0" * 32, "pdq": pdq(photos["rocket"]), "category": "2", "media_id": "m-2"},
            {"md5": md5(noise_image(1)), "category": "0", "media_id": "m-3"},
        ],
    )


def _rows(store: Store, model: Any, skip: set[str]) -> list[tuple[Any, ...]]:
    names = [c.name for c in model.__table__.columns if c.name not in skip]
    with store.session() as session:
        rows = session.execute(select(*[getattr(model, n) for n in names])).all()
    return sorted((tuple(repr(v) for v in row) for row in rows), key=repr)


def _stored(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "files": _rows(store, File, set()),
        "instances": _rows(store, FileInstance, {"id", "scanned_at"}),
        "classifications": _rows(store, Classification, set()),
        "matches": _rows(store, Match, {"id"}),
        "evidence": _rows(store, Evidence, {"id", "created_at", "acquired_at"}),
    }


def test_spark_scan_stores_what_a_local_scan_stores(
    spark: SparkSession, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    root = tmp_path / "device"
    _tree(root, photos)
    local = open_store(f"sqlite:///{tmp_path / 'local.db'}")
    sparked = open_store(f"sqlite:///{tmp_path / 'spark.db'}")
    try:
        for store in (local, sparked):
            _hash_set(store, photos)
        run_scan(local, [root], "device-1", ["vics"], workers=1, actor="test:setup")
        results = tmp_path / "results.parquet"
        got = run_spark_scan(
            sparked, spark, [root], "device-1", results, ["vics"], actor="test:setup"
        )
        assert got.records_written == 11  # 9 files, 2 members, 1 walk error less the zip's own
        assert _stored(sparked) == _stored(local)
        labels = {r[2] for r in _stored(sparked)["classifications"]}
        assert {"'known'", "'ignorable'", "'new'"} <= labels

        # The per-file results, as Parquet: one row per file instance, errors included.
        table = pq.read_table(results)
        assert sorted(table.column("path").to_pylist()) == sorted(
            r[1].strip("'")
            for r in _rows(sparked, FileInstance, {"id", "scanned_at"})
            if "outside-link" not in r[1]
        )
        assert "zero-byte" in " ".join(e for e in table.column("error").to_pylist() if e)

        # Scanning the same roots into the evidence again (asked for explicitly): nothing is
        # hashed or stored twice.
        again = run_spark_scan(
            sparked,
            spark,
            [root],
            "device-1",
            results,
            ["vics"],
            actor="test:setup",
            add_to_existing=True,
        )
        assert again.sources_skipped == again.sources_total and again.records_written == 0
        assert _stored(sparked) == _stored(local)
    finally:
        local.close()
        sparked.close()
