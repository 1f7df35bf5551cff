"""A scanned photo's PDQ leaves kaitiaki as HMA's own hasher computes it, not the fast path's.

The photo is a 12-megapixel JPEG (scikit-image's coffee, enlarged): there the scanner's
reduced-scale PDQ is known to drift from the reference, so a test reading the stored value
would fail.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from skimage import data
from threatexchange.signal_type.pdq.signal import PdqSignal

from kaitiaki.exports.pdq import OutgoingPdq
from kaitiaki.scan.export import export, result_rows
from kaitiaki.scan.runner import run_scan
from kaitiaki.signals.pdq import hamming
from kaitiaki.store import Store
from kaitiaki.store.models import File, HashSet, HashSetEntry, Series, SeriesLink
from kaitiaki.triage.series_vics import export_series_vics

# "Within a few bits" of HMA's hasher: the export is the same computation, so it is exact.
FEW_BITS = 2


@pytest.fixture(scope="module")
def large_photo() -> bytes:
    image = Image.fromarray(data.coffee()).resize((4000, 3000), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _scanned(store: Store, tmp_path: Path, photo: bytes) -> tuple[Path, str, str]:
    root = tmp_path / "device"
    root.mkdir()
    (root / "photo.jpg").write_bytes(photo)
    (root / "note.txt").write_text("not an image")
    # A set listing the photo by MD5, so the item's VICS export (classified files) holds it.
    with store.session() as session:
        listed = HashSet(
            name="listed", source="test", profile="projectvic-us-2.0", source_format="test"
        )
        session.add(listed)
        session.flush()
        md5 = hashlib.md5(photo).hexdigest()
        session.add(HashSetEntry(hash_set_id=listed.id, md5=md5, category="1"))
    run_scan(store, [root], "device-1", ["listed"], workers=1, actor="test:setup")
    with store.session() as session:
        file = session.query(File).filter(File.kind == "image").one()
        assert file.pdq is not None
        return root, file.sha256, file.pdq


def test_exports_carry_hma_pdq_not_the_fast_path(
    store: Store, tmp_path: Path, large_photo: bytes
) -> None:
    hma = PdqSignal.hash_from_bytes(large_photo)
    _root, sha256, stored = _scanned(store, tmp_path, large_photo)
    # The premise: on this photo the scanner's own value is no good to a partner.
    assert hamming(stored, hma) > 2 * FEW_BITS

    out = tmp_path / "results.jsonl"
    export(store, "device-1", "jsonl", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    photo_row = next(r for r in rows if r["sha256"] == sha256)
    assert hamming(photo_row["pdq"], hma) <= FEW_BITS
    assert photo_row["pdq_quality"] >= PdqSignal.QUALITY_THRESHOLD
    assert next(r for r in rows if r["path"].endswith("note.txt"))["pdq"] is None

    item_vics = tmp_path / "item.json"
    assert export(store, "device-1", "vics", item_vics) == 2
    by_md5 = {m["MD5"]: m for m in json.loads(item_vics.read_text())["value"]}
    media = by_md5[photo_row["md5"].upper()]
    assert media["Category"] == 1
    (sent,) = [a["HashValue"] for a in media["AlternativeHashes"] if a["HashName"] == "PDQ"]
    assert hamming(sent, hma) <= FEW_BITS

    csv_out = tmp_path / "results.csv"
    export(store, "device-1", "csv", csv_out)
    assert photo_row["pdq"] in csv_out.read_text()
    assert stored not in csv_out.read_text()

    with store.session() as session:
        series = Series(name="S1")
        session.add(series)
        session.flush()
        session.add(SeriesLink(series_id=series.id, sha256=sha256, linked_by="test"))
    vics = tmp_path / "series.json"
    assert export_series_vics(store, vics) == 1
    (media,) = json.loads(vics.read_text())["value"]
    (sent,) = [a["HashValue"] for a in media["AlternativeHashes"] if a["HashName"] == "PDQ"]
    assert hamming(sent, hma) <= FEW_BITS


def test_evidence_gone_leaves_the_pdq_out(store: Store, tmp_path: Path, large_photo: bytes) -> None:
    """Without the content to hash again, no fast-path value is passed off as HMA's."""
    root, sha256, _stored = _scanned(store, tmp_path, large_photo)
    (root / "photo.jpg").unlink()
    outgoing = OutgoingPdq(store)
    rows = list(result_rows(store, "device-1", outgoing))
    photo_row = next(r for r in rows if r["sha256"] == sha256)
    assert photo_row["pdq"] is None and photo_row["md5"]
    assert outgoing.unavailable == 1
