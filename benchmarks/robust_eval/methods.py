"""The matching methods compared, each as: a reference signature, a query signature, and a
vectorised distance from every query to every reference.

Bit hashes are kept packed (uint8 rows) and compared with XOR + ``np.bitwise_count``; a query
may carry several hashes (PDQ's 8 dihedral, x the query-side views) and its distance to a
reference is the least over them, which is how kaitiaki's matcher uses them.

The robust signal is not a distance: it is retrieved through its index and verified, so it is
scored apart (``bench_robust.score_robust``); here it only computes signatures.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from kaitiaki.signals import pdq


@dataclass(frozen=True, slots=True)
class Inputs:
    """One image as each method wants it: the opened file (PDQ's scan path decodes it itself)
    and kaitiaki's reduced RGB (at most 512 a side), shared by the views and robust signal."""

    path: str
    reduced: NDArray[np.uint8]


Sig = Any


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    metric: str  # "hamming" (packed uint8 rows), "euclidean", "robust" (scored apart)
    reference: Callable[[Inputs], Sig]
    query: Callable[[Inputs], Sig]
    op_threshold: int | None = None  # kaitiaki's operating threshold, where it has one
    note: str = ""


def _packed(hexes: Sequence[str]) -> NDArray[np.uint8]:
    return np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(len(hexes), -1)


def _pdq_ref(x: Inputs) -> NDArray[np.uint8]:
    with Image.open(x.path) as im:
        return _packed([pdq.hash_image(im).hex])


def _pdq_query(x: Inputs) -> NDArray[np.uint8]:
    with Image.open(x.path) as im:
        return _packed(pdq.hash_image(im).dihedral)


def _views_query(x: Inputs) -> NDArray[np.uint8]:
    views = importlib.import_module("kaitiaki.signals.views")
    hexes: list[str] = []
    for view in views.query_views(x.reduced):
        hexes.extend(view.pdq.dihedral)
    return _packed(hexes)


def _perception(name: str) -> tuple[Callable[[Inputs], Sig], str]:
    import perception.hashers as hashers

    hasher = getattr(hashers, name)()
    metric = "hamming" if hasher.distance_metric == "hamming" else hasher.distance_metric

    def compute(x: Inputs) -> Sig:
        # perception reads a path with OpenCV at full size, as its users would.
        vec = np.asarray(hasher.compute(x.path, hash_format="vector"))
        if metric == "hamming":
            return np.packbits(vec.astype(bool))[None, :]
        return vec.astype(np.float32)[None, :]

    return compute, metric


def _imagehash(x: Inputs) -> NDArray[np.uint8]:
    import imagehash

    with Image.open(x.path) as im:
        bits = imagehash.phash(im).hash.reshape(-1)
    return np.packbits(bits)[None, :]


def _robust(x: Inputs) -> Sig:
    robust = importlib.import_module("kaitiaki.signals.robust")
    return robust.compute(x.reduced)


PERCEPTION = ("PHash", "PHashU8", "DHash", "MarrHildreth", "ColorMoment", "PDQHash")


def available(names: Sequence[str] | None = None) -> tuple[list[Method], list[str]]:
    """The methods whose modules import here, and a line for each one left out."""
    methods: list[Method] = [
        Method("PDQ (today)", "hamming", _pdq_ref, _pdq_query, 31, "8 dihedral hashes"),
    ]
    skipped: list[str] = []
    try:
        importlib.import_module("kaitiaki.signals.views")
        methods.append(
            Method("PDQ+views", "hamming", _pdq_ref, _views_query, 31, "views x 8 dihedral")
        )
    except ImportError as exc:
        skipped.append(f"PDQ+views: kaitiaki.signals.views not importable ({exc})")
    try:
        importlib.import_module("kaitiaki.signals.robust")
        methods.append(Method("robust", "robust", _robust, _robust, None, "index + verify"))
    except ImportError as exc:
        skipped.append(f"robust: kaitiaki.signals.robust not importable ({exc})")
    for name in PERCEPTION:
        compute, metric = _perception(name)
        methods.append(Method(f"perception {name}", metric, compute, compute))
    methods.append(Method("imagehash phash", "hamming", _imagehash, _imagehash))
    if names:
        wanted = {n.lower() for n in names}
        methods = [
            m for m in methods if m.name.lower() in wanted or m.name.split()[-1].lower() in wanted
        ]
    return methods, skipped


def _words(rows: NDArray[Any]) -> NDArray[np.uint64]:
    """Packed bit rows (..., B) as uint64 words, zero-padded: 4x fewer XOR/popcounts."""
    pad = (-rows.shape[-1]) % 8
    if pad:
        rows = np.concatenate([rows, np.zeros((*rows.shape[:-1], pad), np.uint8)], axis=-1)
    return np.ascontiguousarray(rows).view(np.uint64)


def distances(
    queries: Sequence[Sig], references: Sequence[Sig], metric: str
) -> NDArray[np.float32]:
    """(Q, R) distances: the least over each query's rows to each reference's first row."""
    refs = np.stack([np.asarray(r)[0] for r in references])
    width = max(np.asarray(q).shape[0] for q in queries)
    out = np.empty((len(queries), len(refs)), np.float32)
    refs = _words(refs.astype(np.uint8)) if metric == "hamming" else refs.astype(np.float32)
    # Blocks of queries sized so the (q, K, R, D) intermediate stays near 64 MB.
    chunk = max(1, 64_000_000 // (8 * width * len(refs) * refs.shape[1]))
    for start in range(0, len(queries), chunk):
        block = queries[start : start + chunk]
        # Queries with fewer rows are padded with their first: the minimum is unchanged.
        rows = np.stack(
            [np.concatenate([q, np.repeat(q[:1], width - len(q), axis=0)]) for q in block]
        )  # (q, K, D)
        if metric == "hamming":
            xor = _words(rows.astype(np.uint8))[:, :, None, :] ^ refs[None, None, :, :]
            dist = np.bitwise_count(xor).sum(axis=3, dtype=np.uint16).min(axis=1)
        elif metric in ("euclidean", "cityblock"):
            diff = rows[:, :, None, :].astype(np.float32) - refs[None, None, :, :]
            if metric == "euclidean":
                dist = np.sqrt((diff * diff).sum(axis=3)).min(axis=1)
            else:
                dist = np.abs(diff).sum(axis=3).min(axis=1)
        else:
            raise ValueError(f"unknown metric {metric}")
        out[start : start + len(block)] = dist
    return out


def signature_bytes(sig: Sig) -> int:
    """Bytes a stored signature takes: its own serialisation if it has one, else its arrays."""
    for attr in ("to_bytes", "serialize", "tobytes", "dumps"):
        fn = getattr(sig, attr, None)
        if callable(fn):
            try:
                return len(fn())
            except TypeError:
                continue
    if isinstance(sig, np.ndarray):
        return int(sig[0].nbytes) if sig.ndim == 2 else int(sig.nbytes)
    fields = getattr(sig, "__dataclass_fields__", None) or getattr(sig, "__dict__", {})
    total = 0
    for name in fields:
        value = getattr(sig, name)
        if isinstance(value, np.ndarray):
            total += int(value.nbytes)
        elif isinstance(value, (bytes, bytearray)):
            total += len(value)
    return total
