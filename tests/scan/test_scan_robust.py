"""Edited copies found by a scan: trimmed views against a hash-only set, the robust signal
against a set made from images kaitiaki scanned, and near-duplicate groups that put an edited
copy with its original. Real photos (scikit-image's), real edits, real stores."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from edited_copies import (
    blurred_fill,
    border,
    caption,
    crop,
    jpeg,
    letterbox,
    overlay,
    photo,
    rotate,
)
from sqlalchemy import select

from in_process import kaitiaki
from kaitiaki.hashsets import import_hash_set
from kaitiaki.hashsets.from_evidence import create_from_evidence
from kaitiaki.scan.runner import run_scan
from kaitiaki.signals import PDQ
from kaitiaki.signals.pdq import hash_image_bytes
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, FileGroup, FileInstance, HashSetEntry, Match
from kaitiaki.triage.groups import build_groups


def _write(root: Path, files: dict[str, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, payload in files.items():
        (root / name).write_bytes(payload)


def _matches_by_path(store: Store, evidence: str) -> dict[str, list[Match]]:
    from kaitiaki.store.models import Evidence

    out: dict[str, list[Match]] = {}
    with store.session() as session:
        eid = session.scalar(select(Evidence.id).where(Evidence.name == evidence))
        rows = session.execute(
            select(FileInstance.path, Match)
            .join(Match, Match.sha256 == FileInstance.sha256)
            .where(FileInstance.evidence_id == eid)
        ).all()
        for path, match in rows:
            session.expunge(match)
            out.setdefault(Path(path).name, []).append(match)
    return out


def test_bordered_copies_match_a_hash_only_set_through_their_trimmed_view(
    store: Store, tmp_path: Path
) -> None:
    originals = {name: jpeg(photo(name)) for name in ("astronaut", "coffee", "rocket")}
    edits = {
        "astronaut-black-border.jpg": jpeg(border(photo("astronaut"), 0.15, (0, 0, 0))),
        "coffee-white-border.jpg": jpeg(border(photo("coffee"), 0.12, (255, 255, 255))),
        "rocket-letterbox.jpg": jpeg(letterbox(photo("rocket"), 0.2)),
        "coffee-blurred-fill.jpg": jpeg(blurred_fill(photo("coffee"), 0.2)),
    }
    own = {n: hash_image_bytes(b).hex for n, b in originals.items()}
    for name, payload in edits.items():
        source = name.split("-")[0]
        # The premise: the copy as it is lies past PDQ's threshold from its original.
        assert PDQ.compare(hash_image_bytes(payload).hex, own[source]) > PDQ.threshold, name
    listing = tmp_path / "partner.txt"
    listing.write_text("".join(f"pdq:{h}\n" for h in own.values()))
    import_hash_set(store, listing, "partner", "list", actor="test:setup")
    _write(tmp_path / "device", edits)

    run_scan(store, [tmp_path / "device"], "device", ["partner"], workers=1, actor="test:setup")

    found = _matches_by_path(store, "device")
    assert set(found) == set(edits)
    with store.session() as session:
        entries = {e.id: e.pdq for e in session.scalars(select(HashSetEntry))}
    for name, matches in found.items():
        (match,) = matches
        assert match.signal == "pdq" and match.distance <= PDQ.threshold
        assert match.view is not None and match.view != "original", name
        assert entries[match.entry_id] == own[name.split("-")[0]]


def test_a_set_made_from_scanned_images_finds_cropped_rotated_and_overlaid_copies(
    store: Store, tmp_path: Path
) -> None:
    names = ("astronaut", "coffee", "chelsea")
    _write(tmp_path / "collection", {f"{n}.jpg": jpeg(photo(n)) for n in names})
    run_scan(store, [tmp_path / "collection"], "collection", workers=1, actor="test:setup")
    row = create_from_evidence(
        store, "own", "collection", profile="projectvic-us-2.0", category="1", actor="test:alice"
    )
    assert row.entry_count == 3
    with store.session() as session:
        held = session.scalars(select(HashSetEntry).where(HashSetEntry.hash_set_id == row.id)).all()
        assert all(e.robust for e in held) and {e.category for e in held} == {"1"}
        by_sha = {e.sha256: e.id for e in held}
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "hashset.imported")
        ).all()
        assert [a.actor for a in audited] == ["test:alice"]

    edits = {
        "astronaut-crop10.jpg": jpeg(crop(photo("astronaut"), 0.10)),
        "coffee-rotated10.jpg": jpeg(rotate(photo("coffee"), 10)),
        "chelsea-overlay.jpg": jpeg(overlay(photo("chelsea"), 0.25)),
        "astronaut-caption.jpg": jpeg(caption(photo("astronaut"))),
        "rocket-unrelated.jpg": jpeg(photo("rocket")),
        "camera-unrelated.jpg": jpeg(photo("camera")),
    }
    _write(tmp_path / "device", edits)
    run_scan(store, [tmp_path / "device"], "device", ["own"], workers=1, actor="test:setup")

    found = _matches_by_path(store, "device")
    assert set(found) == {n for n in edits if "unrelated" not in n}
    originals = {n: hashlib.sha256(jpeg(photo(n))).hexdigest() for n in names}
    for name, matches in found.items():
        (match,) = matches
        assert match.entry_id == by_sha[originals[name.split("-")[0]]], name
        if name != "astronaut-caption.jpg":  # a caption may still be within PDQ's reach
            assert match.signal == "robust", (name, match.signal, match.distance)

    # The set's robust index was saved beside the PDQ one; the next scan opens it, same hits.
    from kaitiaki.match.indexes import index_cache_dir

    cache = index_cache_dir(store.url)
    assert cache is not None and len(list(cache.glob("robust-set-*/index.json"))) == 1
    run_scan(store, [tmp_path / "device"], "device-2", ["own"], workers=1, actor="test:setup")
    again = _matches_by_path(store, "device-2")
    assert {n: [(m.entry_id, m.signal) for m in ms] for n, ms in again.items()} == {
        n: [(m.entry_id, m.signal) for m in ms] for n, ms in found.items()
    }


def test_the_command_line_makes_the_set_and_says_what_it_holds(
    store: Store, tmp_path: Path
) -> None:
    _write(tmp_path / "collection", {"coffee.jpg": jpeg(photo("coffee")), "notes.txt": b"hi\n"})
    run_scan(store, [tmp_path / "collection"], "collection", workers=1, actor="test:setup")
    done = kaitiaki(
        "hashset",
        "create",
        "own",
        "--from-evidence",
        "collection",
        "--series",
        "op-h",
        "--db",
        store.url,
    )
    assert done.exit_code == 0, done.output
    assert (
        "created hash set 'own' from evidence 'collection': 1 entries, 1 with robust" in done.stdout
    )
    again = kaitiaki("hashset", "create", "own", "--from-evidence", "collection", "--db", store.url)
    assert again.exit_code == 1 and "already exists" in again.stderr
    missing = kaitiaki("hashset", "create", "x", "--from-evidence", "nowhere", "--db", store.url)
    assert missing.exit_code == 1 and "no evidence item named 'nowhere'" in missing.stderr
    category = kaitiaki(
        "hashset",
        "create",
        "y",
        "--from-evidence",
        "collection",
        "--category",
        "1",
        "--db",
        store.url,
    )
    assert category.exit_code == 1 and "has no categories" in category.stderr


def test_near_duplicate_groups_put_an_edited_copy_with_its_original(
    store: Store, tmp_path: Path
) -> None:
    files = {
        "coffee.jpg": jpeg(photo("coffee")),
        "coffee-crop12.jpg": jpeg(crop(photo("coffee"), 0.12)),
        "coffee-rotated8.jpg": jpeg(rotate(photo("coffee"), -8)),
        "rocket.jpg": jpeg(photo("rocket")),
        "camera.jpg": jpeg(photo("camera")),
    }
    _write(tmp_path / "device", files)
    result = run_scan(store, [tmp_path / "device"], "device", workers=1, actor="test:setup")
    build_groups(store, result.evidence_id, actor="tester")
    with store.session() as session:
        paths = dict(
            session.execute(
                select(FileInstance.sha256, FileInstance.path).where(
                    FileInstance.evidence_id == result.evidence_id
                )
            ).all()
        )
        groups = {
            Path(paths[g.sha256]).name: (Path(paths[g.representative]).name, g.signal)
            for g in session.scalars(select(FileGroup))
        }
    coffee = {n for n in groups if n.startswith("coffee")}
    assert len({groups[n][0] for n in coffee}) == 1, groups
    assert {groups[n][1] for n in coffee if groups[n][0] != n} == {"robust"}
    assert groups["rocket.jpg"][0] == "rocket.jpg" and groups["camera.jpg"][0] == "camera.jpg"


def test_a_scan_can_leave_the_robust_signal_out(store: Store, tmp_path: Path) -> None:
    from kaitiaki.store.models import File

    _write(tmp_path / "a", {"coffee.jpg": jpeg(photo("coffee"))})
    _write(tmp_path / "b", {"rocket.jpg": jpeg(photo("rocket"))})
    run_scan(store, [tmp_path / "a"], "with", workers=1, actor="test:setup")
    done = kaitiaki(
        "scan", str(tmp_path / "b"), "-e", "without", "-w", "1", "--no-robust", "--db", store.url
    )
    assert done.exit_code == 0, done.output
    with store.session() as session:
        rows = session.execute(select(File.sha256, File.robust, File.pdq)).all()
    assert len(rows) == 2 and all(pdq for _, _, pdq in rows)
    assert sorted(robust is not None for _, robust, _ in rows) == [False, True]


def test_a_robust_signal_failure_is_a_note_and_the_pdq_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cv2

    from kaitiaki.scan.hasher import hash_path
    from kaitiaki.signals import robust

    def refuse(_rgb: object) -> object:
        raise cv2.error("simulated: OpenCV refused the picture")

    monkeypatch.setattr(robust, "compute", refuse)
    (tmp_path / "coffee.jpg").write_bytes(jpeg(photo("coffee")))
    (record,) = hash_path(tmp_path / "coffee.jpg")
    assert record.error is None and record.pdq is not None and record.robust is None
    assert [n for n in record.notes if n.startswith("robust: cannot compute")], record.notes
    (tmp_path / "broken.jpg").write_bytes(jpeg(photo("coffee"))[:300])
    (broken,) = hash_path(tmp_path / "broken.jpg")
    assert broken.error is not None and broken.error.startswith("pdq: ")
