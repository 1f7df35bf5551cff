"""Near-duplicate groups: the rules (hypothesis) and real scanned images (SQLite, PostgreSQL)."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from triage_samples import scan_device

from kaitiaki.signals.vpdq import hash_video
from kaitiaki.simulate.video import write_clip, write_copy
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, FileGroup
from kaitiaki.triage.groups import (
    PdqItem,
    build_groups,
    ensure_groups,
    group_pdq,
    group_videos,
    pdq_pairs,
)


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _distance(a: PdqItem, b: PdqItem) -> int:
    """The rule written out: closest dihedral form of either against the other's PDQ."""
    one = min(_hamming(h, b.pdq) for h in a.dihedral)
    two = min(_hamming(h, a.pdq) for h in b.dihedral)
    return min(one, two)


@st.composite
def clustered_items(draw: st.DrawFn) -> list[PdqItem]:
    """Items around a few random centres, some with extra dihedral forms: many near pairs,
    chains, and far items."""
    seed = draw(st.integers(0, 2**32 - 1))
    rnd = random.Random(seed)
    centres = [rnd.getrandbits(256) for _ in range(draw(st.integers(1, 4)))]
    items = []
    for _ in range(draw(st.integers(0, 40))):
        value = rnd.choice(centres)
        for _ in range(rnd.randrange(0, 45)):
            value ^= 1 << rnd.randrange(256)
        forms = [f"{value:064x}"] + [
            f"{rnd.choice(centres) ^ (1 << rnd.randrange(256)):064x}"
            for _ in range(rnd.choice((0, 0, 1, 7)))
        ]
        items.append(
            PdqItem(f"{rnd.getrandbits(256):064x}", forms[0], tuple(forms), rnd.randrange(50, 101))
        )
    return items


@settings(max_examples=60, deadline=None)
@given(clustered_items(), st.integers(0, 64), st.randoms(use_true_random=False))
def test_groups_follow_the_rules(items: list[PdqItem], threshold: int, rnd: random.Random) -> None:
    by_key = {i.sha256: i for i in items}
    groups = group_pdq(items, threshold)
    assert sorted(a.sha256 for a in groups) == sorted(by_key)
    reps = {a.representative for a in groups}
    for a in groups:
        rep = by_key[a.representative]
        # The representative is in its own group, and every member is within the threshold of
        # it, at the distance recorded.
        assert next(g for g in groups if g.sha256 == rep.sha256).representative == rep.sha256
        assert a.distance == (0 if a.sha256 == rep.sha256 else _distance(by_key[a.sha256], rep))
        assert a.distance <= threshold
    # Leader clustering: no representative lies within the threshold of another.
    ordered = sorted(reps)
    for i, r1 in enumerate(ordered):
        for r2 in ordered[i + 1 :]:
            assert _distance(by_key[r1], by_key[r2]) > threshold
    # The order the files come in changes nothing.
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert group_pdq(shuffled, threshold) == groups


@settings(max_examples=40, deadline=None)
@given(clustered_items(), st.integers(0, 64))
def test_index_finds_exactly_the_pairs_within_the_threshold(
    items: list[PdqItem], threshold: int
) -> None:
    unique = sorted({i.sha256: i for i in items}.values(), key=lambda i: i.sha256)
    pairs, dist = pdq_pairs(unique, threshold)
    found = {(int(a), int(b)): int(d) for (a, b), d in zip(pairs, dist, strict=True)}
    expected = {}
    for i in range(len(unique)):
        for j in range(i + 1, len(unique)):
            d = _distance(unique[i], unique[j])
            if d <= threshold:
                expected[(i, j)] = d
    assert found == expected


def test_chains_do_not_pull_far_files_into_a_group() -> None:
    base = 0
    a = PdqItem("a" * 64, f"{base:064x}", (f"{base:064x}",), 100)
    b_value = (1 << 20) - 1  # 20 bits from a
    b = PdqItem("b" * 64, f"{b_value:064x}", (f"{b_value:064x}",), 100)
    c_value = b_value | (((1 << 20) - 1) << 20)  # 20 bits from b, 40 from a
    c = PdqItem("c" * 64, f"{c_value:064x}", (f"{c_value:064x}",), 100)
    groups = {g.sha256: g.representative for g in group_pdq([a, b, c], 31)}
    # b has the most neighbours and leads; a and c join it; a and c are 40 apart but each
    # is within 31 of the file the reviewer sees.
    assert groups == {a.sha256: b.sha256, b.sha256: b.sha256, c.sha256: b.sha256}
    d_value = c_value | (((1 << 20) - 1) << 40)  # 20 from c, 40 from b
    d = PdqItem("d" * 64, f"{d_value:064x}", (f"{d_value:064x}",), 100)
    groups = {g.sha256: g.representative for g in group_pdq([a, b, c, d], 31)}
    assert groups[d.sha256] != groups[a.sha256]


def test_scanned_near_duplicates_group_and_unrelated_photos_do_not(
    store: Store, tmp_path: Path
) -> None:
    device, result = scan_device(store, tmp_path)
    built = build_groups(store, result.evidence_id, 31, actor="tester")
    with store.session() as session:
        rows = {
            r.sha256: r
            for r in session.scalars(
                select(FileGroup).where(FileGroup.evidence_id == result.evidence_id)
            )
        }
    bike = [device.sha256(p) for p in device.files if p.startswith("Pictures/")]
    reps = {rows[s].representative for s in bike}
    assert len(reps) == 1 and reps.pop() in bike
    assert all(rows[s].distance <= 31 for s in bike)
    others = [
        device.sha256(p)
        for p in device.files
        if p.startswith(("DCIM/", "Downloads/"))
        and not p.endswith(("astronaut.jpg", "coffee.jpg"))
        and not p.endswith("IMG_0005.JPG")
    ]
    # Unrelated photos and camera originals are each a group of their own.
    assert all(rows[s].representative == s for s in others)
    # Known files are not new material: no group rows.
    assert device.sha256("Downloads/astronaut.jpg") not in rows
    assert built.groups == len(others) + 1 and built.grouped == len(bike)
    # Re-running writes the same rows; ensure_groups leaves current groups alone.
    again = build_groups(store, result.evidence_id, 31, actor="tester")
    with store.session() as session:
        rerun = {
            r.sha256: (r.representative, r.distance)
            for r in session.scalars(
                select(FileGroup).where(FileGroup.evidence_id == result.evidence_id)
            )
        }
        audits = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "triage.groups_built")
        )
    assert again == built
    assert rerun == {s: (r.representative, r.distance) for s, r in rows.items()}
    assert audits == 2
    assert ensure_groups(store, result.evidence_id, actor="cli:tester") is None
    assert ensure_groups(store, result.evidence_id, 20, actor="cli:tester") is not None


def test_videos_group_by_vpdq(tmp_path: Path) -> None:
    clip, copy = tmp_path / "clip.mp4", tmp_path / "copy.mp4"
    write_clip(clip, seed=3)
    write_copy(clip, copy)
    as_lists = {
        name: [f.as_list() for f in hash_video(str(path))]
        for name, path in (("c" * 64, clip), ("d" * 64, copy))
    }
    groups = group_videos(list(as_lists.items()))
    assert {g.representative for g in groups} == {groups[0].representative}
    assert all(g.signal == "vpdq" for g in groups)
    # A video with no frame in common stays alone.
    far = [[0, 100, "f" * 64, 0.0]]
    alone = group_videos([*as_lists.items(), ("e" * 64, far)])
    assert next(g for g in alone if g.sha256 == "e" * 64).representative == "e" * 64
