"""Near-duplicate groups of new material, so a reviewer categorises one file per group.

Distance. Two images are as close as the closest of their dihedral forms: ``d(a, b)`` is the
smallest Hamming distance between one of ``a``'s 8 dihedral PDQ hashes and ``b``'s PDQ hash,
taken both ways round (so rotated and mirrored copies group, and ``d`` is symmetric). Images
with PDQ quality under 50 are never grouped: their hashes say little (flat or tiny images).
Videos use vPDQ: two videos are near duplicates when at least 80% of each one's unique usable
frames find a frame of the other within 31 bits (the matcher's frame rule, asked in both
directions so the relation is symmetric); their distance is the larger of the two mean frame
distances.

Edited copies. Where the scan kept the robust signal's signatures (``signals.robust``), two
images are also near duplicates when their signatures verify: a copy cropped, rotated, captioned
or with stickers over it, which PDQ puts far apart, joins its original's group (the member's
``signal`` is then ``robust`` and its ``distance`` the number of verified feature matches). A
pair PDQ already joins keeps its PDQ distance. Caution from the signal: two different pictures
sharing a large overlay (the same caption or watermark) verify too; the reviewer sees them.

Threshold. 31 bits by default, the threshold DESIGN.md sets for matching a file against a
hash set: a decision applied to a group member on the strength of its distance to the
representative then rests on the same evidence as a category taken from a hash-set match.
Meta's PDQ documentation gives 31 as the distance below which false matches are rare for
quality >= 50 hashes; lower it (``--group-threshold``) for stricter groups.

Clustering. Leader clustering, not connected components: components chain (a ~ b ~ c with a
and c far apart), so a decision on one file would reach files nothing like it. Here every
member is within the threshold of its representative, the file the reviewer actually sees.
Candidates are taken in a fixed order: most neighbours first (the file most others are close
to, usually the original of its edits), then higher quality, then SHA-256. Each file not yet
grouped becomes a representative and takes every ungrouped file within the threshold of it.
The order depends only on the files, never on insertion or scan order, so the groups are the
same on every run; and no two representatives are within the threshold of each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.index import PdqIndex
from kaitiaki.index.pdq import hex_to_bytes
from kaitiaki.index.robust import RobustIndex
from kaitiaki.match.videos import FRAME_DISTANCE, QUALITY_FLOOR, match_videos, unique_frames
from kaitiaki.signals import PDQ, ROBUST
from kaitiaki.signals import robust as robust_signal
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Classification, File, FileGroup

DEFAULT_THRESHOLD = PDQ.threshold
VIDEO_SHARE = 0.80
PDQ_QUALITY_FLOOR = PDQ.quality_floor or 0
GROUP_ACTION = "triage.groups_built"
_INSERT_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class PdqItem:
    sha256: str
    pdq: str
    # The 8 dihedral hashes, original first; just ``(pdq,)`` when the scan kept none.
    dihedral: tuple[str, ...]
    quality: int


@dataclass(frozen=True, slots=True)
class Assignment:
    sha256: str
    representative: str
    distance: int
    signal: str


@dataclass(frozen=True, slots=True)
class GroupResult:
    files: int
    groups: int
    grouped: int  # files in a group of two or more
    threshold: int


def _leaders(
    keys: Sequence[str],
    quality: NDArray[np.int64],
    pairs: NDArray[np.int64],
    dist: NDArray[np.int64],
    signal: str,
    signals: Sequence[str] | None = None,
) -> list[Assignment]:
    """Leader clustering over an undirected graph given as unique pairs (i < j) and distances.

    ``keys`` must be sorted: a node's index is then its rank by SHA-256, the last tie-break.
    ``signals`` names each pair's signal where pairs came from more than one (else ``signal``).
    """
    n = len(keys)
    names = sorted({signal, *(signals or ())})
    code = np.asarray([names.index(x) for x in signals], np.int64) if signals else None
    kinds = np.full(len(pairs), names.index(signal), np.int64) if code is None else code
    src = np.concatenate([pairs[:, 0], pairs[:, 1]]) if len(pairs) else np.empty(0, np.int64)
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]]) if len(pairs) else np.empty(0, np.int64)
    both = np.concatenate([dist, dist]) if len(pairs) else np.empty(0, np.int64)
    via = np.concatenate([kinds, kinds]) if len(pairs) else np.empty(0, np.int64)
    order = np.argsort(src, kind="stable")
    src, dst, both, via = src[order], dst[order], both[order], via[order]
    starts = np.searchsorted(src, np.arange(n + 1))
    degree = np.diff(starts)
    # np.lexsort sorts by the last key first: degree (desc), quality (desc), then rank.
    visit = np.lexsort((np.arange(n), -quality, -degree))
    group = np.full(n, -1, dtype=np.int64)
    to_rep = np.zeros(n, dtype=np.int64)
    rep_via = np.full(n, names.index(signal), dtype=np.int64)
    for node in visit.tolist():
        if group[node] >= 0:
            continue
        group[node] = node
        near = dst[starts[node] : starts[node + 1]]
        near_d = both[starts[node] : starts[node + 1]]
        near_via = via[starts[node] : starts[node + 1]]
        free = group[near] < 0
        group[near[free]] = node
        to_rep[near[free]] = near_d[free]
        rep_via[near[free]] = near_via[free]
    return [
        Assignment(keys[i], keys[int(group[i])], int(to_rep[i]), names[int(rep_via[i])])
        for i in range(n)
    ]


def pdq_pairs(
    items: Sequence[PdqItem], threshold: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every pair (i < j) with ``d(i, j) <= threshold`` and its distance, found with the exact
    range index (all 8 dihedral hashes of each item asked against every item's PDQ)."""
    if len(items) < 2:
        return np.empty((0, 2), np.int64), np.empty(0, np.int64)
    index = PdqIndex.build(hex_to_bytes([i.pdq for i in items]), np.arange(len(items)))
    owners = np.repeat(np.arange(len(items)), [len(i.dihedral) for i in items])
    found = index.query(hex_to_bytes([h for i in items for h in i.dihedral]), threshold)
    a, b = owners[found.query], found.ids
    keep = a != b
    lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    d = found.distance[keep].astype(np.int64)
    if not len(lo):
        return np.empty((0, 2), np.int64), np.empty(0, np.int64)
    # Keep the smallest distance per pair (both directions, all dihedral forms).
    order = np.lexsort((d, hi, lo))
    lo, hi, d = lo[order], hi[order], d[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return np.stack([lo[first], hi[first]], axis=1), d[first]


def group_pdq(
    items: Sequence[PdqItem],
    threshold: int = DEFAULT_THRESHOLD,
    robust: Mapping[str, bytes] | None = None,
) -> list[Assignment]:
    """Groups of images (see the module docstring); one assignment per distinct item.

    With ``robust`` (SHA-256 -> the robust signal's signature) two images are also near
    duplicates when their signatures verify (a cropped, rotated or overlaid copy); a pair
    PDQ already joins keeps its PDQ distance.
    """
    unique = sorted({i.sha256: i for i in items}.values(), key=lambda i: i.sha256)
    pairs, dist = pdq_pairs(unique, threshold)
    quality = np.asarray([i.quality for i in unique], dtype=np.int64)
    keys = [i.sha256 for i in unique]
    if not robust:
        return _leaders(keys, quality, pairs, dist, "pdq")
    extra, inliers = robust_pairs([robust.get(k) for k in keys])
    held = {(int(a), int(b)) for a, b in pairs.tolist()}
    new = [n for n, (a, b) in enumerate(extra.tolist()) if (a, b) not in held]
    signals = ["pdq"] * len(pairs) + [ROBUST.name] * len(new)
    return _leaders(
        keys,
        quality,
        np.concatenate([pairs, extra[new]]).reshape(-1, 2),
        np.concatenate([dist, inliers[new]]),
        "pdq",
        signals,
    )


def robust_pairs(
    signatures: Sequence[bytes | None],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every pair (i < j) whose robust signatures verify, asked both ways round, with the
    larger number of verified feature matches."""
    ids, parsed = robust_signal.readable(enumerate(signatures))
    best: dict[tuple[int, int], int] = {}
    if len(ids) > 1:
        index = RobustIndex()
        index.add(ids, parsed)
        for i, signature in zip(ids, parsed, strict=True):
            for j, inliers in index.query(signature):
                if j != i:
                    key = (min(i, j), max(i, j))
                    best[key] = max(best.get(key, 0), inliers)
    keys = sorted(best)
    return (
        np.asarray(keys, dtype=np.int64).reshape(-1, 2),
        np.asarray([best[k] for k in keys], dtype=np.int64),
    )


def group_videos(
    videos: Sequence[tuple[str, Sequence[Sequence[Any]]]],
    frame_distance: int = FRAME_DISTANCE,
) -> list[Assignment]:
    """Groups of videos by their vPDQ frames (pairwise: evidence holds few videos)."""
    unique = sorted(dict(videos).items())
    frames = [unique_frames(f, QUALITY_FLOOR) for _, f in unique]
    pairs: list[tuple[int, int]] = []
    dist: list[int] = []
    for i in range(len(unique)):
        for j in range(i + 1, len(unique)):
            ij = match_videos(
                frames[i],
                frames[j],
                frame_distance=frame_distance,
                query_share=VIDEO_SHARE,
                entry_share=VIDEO_SHARE,
            )
            ji = match_videos(
                frames[j],
                frames[i],
                frame_distance=frame_distance,
                query_share=VIDEO_SHARE,
                entry_share=VIDEO_SHARE,
            )
            if ij is not None and ji is not None:
                pairs.append((i, j))
                dist.append(max(ij.distance, ji.distance))
    usable = np.asarray([len(f) for f in frames], dtype=np.int64)
    return _leaders(
        [k for k, _ in unique],
        usable,
        np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
        np.asarray(dist, dtype=np.int64),
        "vpdq",
    )


def _new_material(session: Session, eid: int) -> tuple[list[PdqItem], list[tuple[str, Any]]]:
    rows = session.execute(
        select(File.sha256, File.kind, File.pdq, File.pdq_dihedral, File.pdq_quality, File.vpdq)
        .join(Classification, Classification.sha256 == File.sha256)
        .where(Classification.evidence_id == eid, Classification.label == "new")
        .where(File.kind.in_(("image", "video")))
    )
    images: list[PdqItem] = []
    videos: list[tuple[str, Any]] = []
    for sha256, kind, pdq, dihedral, quality, vpdq in rows:
        if kind == "image" and pdq and (quality or 0) >= PDQ_QUALITY_FLOOR:
            forms = tuple(dihedral.split()) if dihedral else (pdq,)
            images.append(PdqItem(sha256, pdq, forms, int(quality or 0)))
        elif kind == "video" and vpdq:
            videos.append((sha256, vpdq))
    return images, videos


def _signatures(session: Session, eid: int) -> dict[str, bytes]:
    """The robust signatures of the evidence's new images, by SHA-256."""
    rows = session.execute(
        select(File.sha256, File.robust)
        .join(Classification, Classification.sha256 == File.sha256)
        .where(Classification.evidence_id == eid, Classification.label == "new")
        .where(File.kind == "image", File.robust.is_not(None))
    )
    return {str(sha256): data for sha256, data in rows if data is not None}


def groupable_count(session: Session, eid: int) -> int:
    images, videos = _new_material(session, eid)
    return len(images) + len(videos)


def build_groups(
    store: Store,
    eid: int,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    actor: str,
    on_stage: Callable[[str], None] | None = None,
) -> GroupResult:
    """Group the evidence's new images and videos and replace its FileGroup rows.

    Deterministic, so a re-run writes the same rows. Earlier review decisions keep the
    representative they were taken on (``ReviewDecision.via_group``) whatever happens here.
    """
    if not 0 <= threshold <= 256:
        raise ValueError(f"group threshold must be 0-256, not {threshold}")
    with store.session() as session:
        images, videos = _new_material(session, eid)
        robust = _signatures(session, eid)
    if on_stage:
        on_stage(
            f"grouping {len(images):,} images (PDQ, and {len(robust):,} robust signatures) "
            f"and {len(videos):,} videos (vPDQ)"
        )
    assignments = group_pdq(images, threshold, robust) + group_videos(videos)
    rows = [
        {
            "evidence_id": eid,
            "sha256": a.sha256,
            "representative": a.representative,
            "distance": a.distance,
            "signal": a.signal,
        }
        for a in assignments
    ]
    sizes: dict[str, int] = {}
    for a in assignments:
        sizes[a.representative] = sizes.get(a.representative, 0) + 1
    result = GroupResult(
        files=len(rows),
        groups=len(sizes),
        grouped=sum(s for s in sizes.values() if s > 1),
        threshold=threshold,
    )
    with store.session() as session:
        session.execute(delete(FileGroup).where(FileGroup.evidence_id == eid))
        statement = insert(cast(Table, FileGroup.__table__))
        for start in range(0, len(rows), _INSERT_BATCH):
            session.execute(statement, rows[start : start + _INSERT_BATCH])
        record(
            session,
            actor=actor,
            action=GROUP_ACTION,
            target_type="evidence",
            target_id=str(eid),
            details={
                "threshold": threshold,
                "files": result.files,
                "groups": result.groups,
                "grouped": result.grouped,
            },
        )
    return result


def last_threshold(session: Session, eid: int) -> int | None:
    """The threshold the evidence's groups were last built with (from the audit log)."""
    details = session.scalar(
        select(AuditEvent.details)
        .where(AuditEvent.action == GROUP_ACTION, AuditEvent.target_id == str(eid))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    value = (details or {}).get("threshold")
    return int(value) if value is not None else None


def ensure_groups(
    store: Store,
    eid: int,
    threshold: int | None = None,
    *,
    actor: str,
    on_stage: Callable[[str], None] | None = None,
) -> GroupResult | None:
    """Build the groups unless every new image and video already has one at ``threshold``
    (None: whatever threshold they were built with). None when nothing was rebuilt."""
    with store.session() as session:
        have = session.scalar(
            select(func.count()).select_from(FileGroup).where(FileGroup.evidence_id == eid)
        )
        wanted = groupable_count(session, eid)
        built_with = last_threshold(session, eid)
    current = have == wanted and (threshold is None or threshold == built_with)
    if current and (wanted == 0 or built_with is not None):
        return None
    return build_groups(
        store,
        eid,
        DEFAULT_THRESHOLD if threshold is None else threshold,
        actor=actor,
        on_stage=on_stage,
    )


def group_members(session: Session, eid: int, representative: str) -> list[str]:
    return list(
        session.scalars(
            select(FileGroup.sha256)
            .where(FileGroup.evidence_id == eid, FileGroup.representative == representative)
            .order_by(FileGroup.distance, FileGroup.sha256)
        )
    )
