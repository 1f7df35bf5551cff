"""The provider's file catalog (object id -> hashes) and the hash set that flags some of it.

Hashes are random but well formed (nothing is hashed: no media exist). Flagged objects are listed
in a VICS 2.0 hash set with category 1-3: most by their exact MD5/SHA-1, some only by a PDQ hash
5-20 bits from the catalog's (a re-encoded copy: found only by perceptual matching). Category 0
(non-pertinent) entries list popular benign objects, which must not flag anyone; a few entries
list files the provider does not hold. "New material" objects are unlisted: uploaders share them,
and no hash match can find them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]

from kaitiaki.simulate.operation.people import Floats, Ints

VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
FLAGGED_SHARE = 0.08
NON_PERTINENT_SHARE = 0.02
NEW_SHARE = 0.03
PDQ_SHARE = 0.8  # objects that are images, so have a PDQ hash
PDQ_ONLY_SHARE = 0.15  # flagged objects listed only by a nearby PDQ
PDQ_DISTANCE = (5, 20)


@dataclass(frozen=True)
class Pool:
    """Objects of one kind and how often each is touched (probabilities summing to 1)."""

    objects: Ints
    weights: Floats

    def draw(self, rng: np.random.Generator, n: int) -> Ints:
        return self.objects[rng.choice(len(self.objects), size=n, p=self.weights)]


@dataclass(frozen=True)
class Catalog:
    object_ids: pa.StringArray
    flagged: Pool  # listed with category 1-3: touching one flags an account
    benign: Pool  # everything else ordinary users touch, non-pertinent objects included
    new: Pool  # unlisted material uploaders share
    category: dict[int, int]  # flagged and non-pertinent object -> category
    pdq_only: Ints
    non_pertinent: Ints

    def is_flagged(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        mask = np.zeros(len(self.object_ids), bool)
        mask[self.flagged.objects] = True
        return mask


def _hex(rng: np.random.Generator, n: int, size: int) -> list[str]:
    text = rng.bytes(n * size).hex()
    step = 2 * size
    return [text[i : i + step] for i in range(0, n * step, step)]


def _popularity(rng: np.random.Generator, n: int, boost: Floats | None = None) -> Floats:
    """Zipf-like: a few objects are everywhere, most are rare."""
    weights = 1.0 / (rng.permutation(n) + 1.0) ** 0.8
    if boost is not None:
        weights = weights * boost
    return np.asarray(weights / weights.sum(), np.float64)


def _near(rng: np.random.Generator, pdq: str) -> str:
    """The PDQ of a re-encoded copy: ``pdq`` with 5-20 of its 256 bits flipped."""
    bits = rng.choice(256, size=int(rng.integers(*PDQ_DISTANCE, endpoint=True)), replace=False)
    mask = sum(1 << int(b) for b in bits)
    return f"{int(pdq, 16) ^ mask:064x}"


def _unique_ids(rng: np.random.Generator, n: int) -> list[str]:
    while True:
        values = rng.integers(1 << 60, 1 << 63, size=n, dtype=np.int64)
        if len(np.unique(values)) == n:
            return [f"{v:016x}" for v in values.tolist()]


def build_catalog(rng: np.random.Generator, objects: int, out_dir: Path) -> Catalog:
    """Write ``catalog.csv`` and ``hashset.json``; return the pools the events draw from."""
    ids = _unique_ids(rng, objects)
    md5, sha1, sha256, pdq_hex = (_hex(rng, objects, k) for k in (16, 20, 32, 32))
    order = rng.permutation(objects)
    n_flag = max(10, int(objects * FLAGGED_SHARE))
    n_np = max(5, int(objects * NON_PERTINENT_SHARE))
    n_new = max(5, int(objects * NEW_SHARE))
    flagged = np.sort(order[:n_flag])
    non_pertinent = np.sort(order[n_flag : n_flag + n_np])
    new = np.sort(order[n_flag + n_np : n_flag + n_np + n_new])
    benign = np.sort(order[n_flag + n_np + n_new :])
    has_pdq = rng.random(objects) < PDQ_SHARE
    pdq = [h if has else "" for h, has in zip(pdq_hex, has_pdq.tolist(), strict=True)]
    pacsv.write_csv(
        pa.table({"object_id": ids, "md5": md5, "sha1": sha1, "sha256": sha256, "pdq": pdq}),
        out_dir / "catalog.csv",
        pacsv.WriteOptions(quoting_style="needed"),
    )

    pdq_only = flagged[has_pdq[flagged] & (rng.random(n_flag) < PDQ_ONLY_SHARE)]
    # Project VIC US: 1 child abuse material, 2 exploitive/age difficult, 3 CGI/animation.
    categories = rng.choice([1, 2, 3], n_flag, p=[0.6, 0.3, 0.1]).tolist()
    category = dict(zip(flagged.tolist(), categories, strict=True))
    category.update(dict.fromkeys(non_pertinent.tolist(), 0))
    media: list[dict[str, Any]] = []
    only = set(pdq_only.tolist())
    for o, cat in category.items():
        entry: dict[str, Any] = {"MD5": md5[o].upper(), "SHA1": sha1[o].upper(), "Category": cat}
        if o in only:
            variant = _hex(rng, 1, 36)[0]  # the listed copy's own digests: not in the catalog
            entry.update(
                MD5=variant[:32].upper(), SHA1=variant[32:].upper(), PDQ=_near(rng, pdq[o])
            )
        elif pdq[o] and rng.random() < 0.5:
            entry["PDQ"] = pdq[o]
        media.append(entry)
    for digest in _hex(rng, max(3, n_flag // 10), 36):  # files the provider does not hold
        media.append({"MD5": digest[:32].upper(), "SHA1": digest[32:].upper(), "Category": 1})
    media = [media[i] for i in rng.permutation(len(media)).tolist()]
    for number, entry in enumerate(media, start=1):
        entry.update(MediaID=number, IsDistributed="true", VictimIdentified="false")
        entry["Series"] = f"SIM-{number % 97:03d}" if entry["Category"] else ""
    document = {"@odata.context": VICS_CONTEXT, "value": media}
    (out_dir / "hashset.json").write_text(json.dumps(document, indent=1), encoding="utf-8")

    boost = np.ones(objects)
    boost[non_pertinent] = 20.0  # non-pertinent files are the popular ones (memes, stock photos)
    ordinary = np.concatenate([benign, non_pertinent])
    return Catalog(
        object_ids=pa.array(ids, pa.string()),
        flagged=Pool(flagged, _popularity(rng, n_flag)),
        benign=Pool(ordinary, _popularity(rng, len(ordinary), boost[ordinary])),
        new=Pool(new, _popularity(rng, n_new)),
        category=category,
        pdq_only=pdq_only,
        non_pertinent=non_pertinent,
    )
