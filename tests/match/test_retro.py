"""Retroactive matching: a hash set's new entries against the files already scanned.

The files are generated benign pictures, scanned for real; the set's entries are made from what
the scan recorded (a digest, a rotated PDQ hash with a few bits changed, a PDQ hash too far off)
so that the expected answer is known exactly.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from kaitiaki.hashsets.derived import add_entries, write_hash_set
from kaitiaki.hashsets.entry import Entry, HashSetMissingError
from kaitiaki.hashsets.store import set_enabled
from kaitiaki.index import brute_force, hex_to_bytes
from kaitiaki.jobs import JobView
from kaitiaki.match import retro_pdq
from kaitiaki.match.retro import ACTION, retro_match
from kaitiaki.match.retro_find import NewEntries, new_pdq
from kaitiaki.match.retro_pdq import Route, choose_route, find_pdq
from kaitiaki.scan.runner import run_scan
from kaitiaki.store import Store
from kaitiaki.store.models import (
    AuditEvent,
    Classification,
    Evidence,
    File,
    FileInstance,
    HashSet,
    HashSetEntry,
    Job,
    Match,
)

ACTOR = "test:examiner"
THRESHOLD = 31


def _flip(pdq: str, bits: int, seed: int) -> str:
    """``pdq`` with ``bits`` distinct bits changed: exactly that far from it."""
    positions = random.Random(seed).sample(range(256), bits)
    return f"{int(pdq, 16) ^ sum(1 << p for p in positions):064x}"


def _scanned(store: Store, root: Path) -> dict[str, File]:
    """Four generated pictures scanned as evidence item "phone"; their file rows by name."""
    folder = root / "phone"
    folder.mkdir()
    rng = np.random.default_rng(15)
    for name in ("a", "b", "c", "d"):
        pixels = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}.png")
    run_scan(store, [folder], "phone", actor=ACTOR, workers=1)
    with store.session() as session:
        files = {f.sha256: f for f in session.scalars(select(File))}
    import hashlib

    by_name = {}
    for name in ("a", "b", "c", "d"):
        digest = hashlib.sha256((folder / f"{name}.png").read_bytes()).hexdigest()
        by_name[name] = files[digest]
        assert files[digest].pdq_dihedral and (files[digest].pdq_quality or 0) >= 50
    return by_name


def _new_set(store: Store, name: str, entries: list[Entry]) -> None:
    with store.session() as session:
        write_hash_set(
            session,
            name,
            entries,
            profile="none",
            source="test",
            source_format="list",
            source_sha256=None,
            actor="test:setup",
        )


def _labels(store: Store) -> dict[str, str]:
    with store.session() as session:
        return {c.sha256: c.label for c in session.scalars(select(Classification))}


def _matches(store: Store) -> list[tuple[str, str, int]]:
    with store.session() as session:
        rows = session.execute(select(Match.sha256, Match.signal, Match.distance))
        return sorted((str(s), str(g), int(d)) for s, g, d in rows)


def _audited(store: Store) -> list[tuple[str, dict[str, object]]]:
    with store.session() as session:
        query = select(AuditEvent).where(AuditEvent.action == ACTION).order_by(AuditEvent.id)
        return [(e.actor, dict(e.details or {})) for e in session.scalars(query)]


def test_new_entries_find_the_files_already_scanned(store: Store, tmp_path: Path) -> None:
    files = _scanned(store, tmp_path)
    a, b, c, d = files["a"], files["b"], files["c"], files["d"]
    assert set(_labels(store).values()) == {"new"}
    assert b.pdq_dihedral is not None and c.pdq is not None
    # b's picture turned a quarter and slightly altered; c's altered past the threshold.
    rotated = _flip(b.pdq_dihedral.split()[1], 9, seed=1)
    _new_set(
        store,
        "shared",
        [
            Entry(sha256=a.sha256),
            Entry(pdq=rotated),
            Entry(pdq=_flip(c.pdq, THRESHOLD + 9, 2)),
            Entry(sha256=c.sha256, media_id="held"),
        ],
    )
    # The flood guard holds one entry back: it matches nothing until a reviewer releases it.
    with store.session() as session:
        held = session.scalars(select(HashSetEntry).where(HashSetEntry.media_id == "held")).one()
        held.quarantined_at = datetime.now(UTC)

    report = retro_match(store, "shared", actor=ACTOR)
    assert (report.status, report.entries, report.quarantined) == ("matched", 3, 1)
    assert report.files_checked == 4
    assert (report.matches_added, report.files_matched, report.files_now_known) == (2, 2, 2)
    assert set(report.now_known_sha256) == {a.sha256, b.sha256}
    assert [(e.name, e.files_matched, e.now_known) for e in report.evidence] == [("phone", 2, 2)]
    assert _matches(store) == sorted([(a.sha256, "sha256", 0), (b.sha256, "pdq", 9)])
    labels = _labels(store)
    assert (labels[a.sha256], labels[b.sha256], labels[c.sha256]) == ("known", "known", "new")
    assert [actor for actor, _ in _audited(store)] == [ACTOR]

    # Again: nothing new to take, nothing written, nothing audited.
    again = retro_match(store, "shared", actor=ACTOR)
    assert (again.status, again.matches_added) == ("nothing new", 0)
    assert len(_matches(store)) == 2 and len(_audited(store)) == 1

    # One entry more: only it is taken (the watermark), and it finds d alone.
    with store.session() as session:
        row = session.scalars(select(HashSet).where(HashSet.name == "shared")).one()
        through = row.retro_matched_through
        add_entries(session, row, [Entry(md5=d.md5)])
    later = retro_match(store, "shared", actor="test:other")
    assert (later.entries, later.matches_added, later.now_known_sha256) == (1, 1, (d.sha256,))
    assert later.through is not None and through is not None and later.through > through
    assert _audited(store)[-1][0] == "test:other"
    assert _audited(store)[-1][1]["entries"] == 1
    assert _labels(store)[d.sha256] == "known"


def test_a_disabled_set_is_not_matched_until_enabled(store: Store, tmp_path: Path) -> None:
    files = _scanned(store, tmp_path)
    _new_set(store, "paused", [Entry(sha256=files["a"].sha256)])
    set_enabled(store, "paused", False, actor="test:setup")
    report = retro_match(store, "paused", actor=ACTOR)
    assert (report.status, report.through) == ("disabled", None)
    assert _matches(store) == [] and _audited(store) == []

    set_enabled(store, "paused", True, actor="test:setup")
    # An allowlist clears files rather than flags them: never matched this way either.
    with store.session() as session:
        session.scalars(select(HashSet)).one().allowlist = True
    assert retro_match(store, "paused", actor=ACTOR).status == "allowlist"
    with store.session() as session:
        session.scalars(select(HashSet)).one().allowlist = False
    assert retro_match(store, "paused", actor=ACTOR).files_now_known == 1
    # The same entries taken again (watermark lost): no duplicate row, no label changed.
    with store.session() as session:
        session.scalars(select(HashSet)).one().retro_matched_through = None
    again = retro_match(store, "paused", actor=ACTOR)
    assert (again.status, again.entries, again.matches_added) == ("matched", 1, 0)
    assert (again.files_now_known, again.evidence) == (0, ())
    assert len(_matches(store)) == 1
    with pytest.raises(HashSetMissingError):
        retro_match(store, "no such set", actor=ACTOR)


@pytest.mark.parametrize("route", ["entries", "files"])
def test_the_pdq_pass_misses_nothing_within_the_threshold(
    sqlite_store: Store, route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against brute force over every (file rotation, entry) pair: same pairs, same distances,
    by either route, with the files read in several pages (and indexed in several batches) and
    the queries shared out over threads in small chunks."""
    monkeypatch.setattr(retro_pdq, "_QUERY_CHUNK", 16)
    monkeypatch.setattr(retro_pdq, "PAGE", 7)
    monkeypatch.setattr(retro_pdq, "FILES_BATCH", 100)
    rng = np.random.default_rng(20261203)
    base = [f"{int.from_bytes(rng.bytes(32), 'big'):064x}" for _ in range(40)]
    # Entries near some files' rotations (distances either side of the threshold) and random.
    entries = [_flip(base[i], int(rng.integers(0, 2 * THRESHOLD)), seed=i) for i in range(25)]
    entries += [f"{int.from_bytes(rng.bytes(32), 'big'):064x}" for _ in range(10)]
    with sqlite_store.session() as session:
        for n, h in enumerate(base):
            # Eight "rotations": the file's hash and seven near or far relatives of it.
            dihedral = [h] + [_flip(h, 3 * k + 20, seed=100 * n + k) for k in range(7)]
            session.add(
                File(
                    sha256=f"{n:064x}",
                    md5=f"{n:032x}",
                    sha1=f"{n:040x}",
                    size=1,
                    kind="image",
                    mime="image/png",
                    pdq=h,
                    pdq_quality=100,
                    pdq_dihedral=" ".join(dihedral),
                )
            )
    _new_set(sqlite_store, "bank", [Entry(pdq=h) for h in entries])
    with sqlite_store.session() as session:
        set_id = session.scalars(select(HashSet.id)).one()
        stored = session.execute(select(HashSetEntry.id, HashSetEntry.pdq)).all()
        ids, hashes = new_pdq(session, NewEntries(set_id, 0, 10**9, THRESHOLD))
        found: dict[str, dict[int, tuple[str, int]]] = {}
        assert find_pdq(session, ids, hashes, THRESHOLD, found, route=route) == len(base)
        files = list(session.scalars(select(File)))
    got = {(sha, e): d for sha, hits in found.items() for e, (_, d) in hits.items()}

    queries = [h for f in files for h in (f.pdq_dihedral or "").split()]
    owner = [f.sha256 for f in files for _ in range(8)]
    ids = [int(i) for i, _ in stored]
    reference = brute_force(
        hex_to_bytes([str(h) for _, h in stored]), hex_to_bytes(queries), THRESHOLD, ids
    )
    expected: dict[tuple[str, int], int] = {}
    for q, entry_id, dist in zip(reference.query, reference.ids, reference.distance, strict=True):
        key = (owner[int(q)], int(entry_id))
        expected[key] = min(expected.get(key, 256), int(dist))
    assert len(expected) >= 5, "too few pairs within the threshold for the test to prove much"
    assert got == expected


def test_many_new_entries_index_the_files_and_few_index_themselves() -> None:
    # An exchange's large fetch against a big store, and a single curated hash.
    assert choose_route(files=1_000_000, entries=100_000, threshold=THRESHOLD) == "files"
    assert choose_route(files=1_000_000, entries=1, threshold=THRESHOLD) == "entries"
    assert choose_route(files=0, entries=100_000, threshold=THRESHOLD) == "entries"


def test_the_job_reports_and_audits_as_its_submitter(sqlite_store: Store) -> None:
    from kaitiaki.jobs import DONE, FAILED, JobRunner, get_job, submit
    from kaitiaki.jobs.params import JobParamsError

    with pytest.raises(JobParamsError, match="hash_set"):
        submit(sqlite_store, "retro_match", {"hash_set": "absent"}, by="alice")
    # Making the set queues its retroactive match, as whoever made it.
    _new_set(sqlite_store, "bank", [Entry(md5="0" * 32)])
    with sqlite_store.session() as session:
        [queued] = session.scalars(select(Job).where(Job.kind == "retro_match")).all()
        assert (queued.params, queued.created_by) == ({"hash_set": "bank"}, "test:setup")
    runner = JobRunner(sqlite_store.url, workers=1, poll_interval=0.05)
    runner.start()

    def finished(job_id: int) -> JobView:
        deadline = time.monotonic() + 60
        while (job := get_job(sqlite_store, job_id)) is None or job.status not in (DONE, FAILED):
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.05)
        return job

    try:
        job = finished(queued.id)
        # Asked again by hand: the entries were taken already.
        again = finished(submit(sqlite_store, "retro_match", {"hash_set": "bank"}, by="alice"))
    finally:
        assert runner.stop()
    assert job.status == DONE, job.error
    assert job.result is not None and again.result is not None
    assert (job.result["status"], job.result["entries"], job.result["matches_added"]) == (
        "matched",
        1,
        0,
    )
    assert (job.result["operations"], job.result["errors"]) == ([], [])
    assert again.result["status"] == "nothing new"
    assert [actor for actor, _ in _audited(sqlite_store)] == ["test:setup"]


def test_the_command_prints_the_report_and_refuses_an_unknown_set(sqlite_store: Store) -> None:
    from in_process import kaitiaki

    missing = kaitiaki("hashset", "retro-match", "absent", "--db", sqlite_store.url)
    assert missing.exit_code == 1 and "no hash set named 'absent'" in missing.stderr
    _new_set(sqlite_store, "bank", [Entry(md5="0" * 32), Entry(pdq="f" * 64)])
    first = kaitiaki("hashset", "retro-match", "bank", "--db", sqlite_store.url)
    assert first.exit_code == 0, first.output
    assert "'bank': 2 new entries (0 quarantined, skipped)" in first.stdout
    assert "0 new matches" in first.stdout
    again = kaitiaki("hashset", "retro-match", "bank", "--db", sqlite_store.url)
    assert again.stdout.strip() == (
        "'bank': nothing to match: no entries were added since its last retroactive match"
    )


def test_videos_match_and_file_system_metadata_never_does(sqlite_store: Store) -> None:
    frames = [[k, 100, _flip("ab" * 32, k, seed=k), float(k)] for k in range(4)]
    with sqlite_store.session() as session:
        evidence = Evidence(name="disk")
        session.add(evidence)
        session.flush()
        for n, (kind, vpdq, own) in enumerate([("video", frames, False), ("other", None, True)]):
            sha = f"{n:064x}"
            session.add(
                File(
                    sha256=sha,
                    md5=f"{n:032x}",
                    sha1=f"{n:040x}",
                    size=1,
                    kind=kind,
                    mime="application/octet-stream",
                    vpdq=vpdq,
                )
            )
            session.flush()
            session.add(
                FileInstance(
                    evidence_id=evidence.id, path=f"/{n}", source="/", sha256=sha, fs_metadata=own
                )
            )
    _new_set(sqlite_store, "bank", [Entry(vpdq=frames), Entry(sha256=f"{1:064x}")])
    report = retro_match(sqlite_store, "bank", actor=ACTOR)
    assert report.now_known_sha256 == (f"{0:064x}",)
    assert _matches(sqlite_store) == [(f"{0:064x}", "vpdq", 0)]


def test_an_entry_released_from_quarantine_is_matched_after_all(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaitiaki.hashsets.quarantine import release
    from kaitiaki.match import retro

    files = _scanned(store, tmp_path)
    a, c, d = files["a"], files["c"], files["d"]
    _new_set(store, "held", [Entry(sha256=a.sha256), Entry(sha256=c.sha256, media_id="held")])
    with store.session() as session:
        entry = session.scalars(select(HashSetEntry).where(HashSetEntry.media_id == "held")).one()
        entry.quarantined_at = datetime.now(UTC)
        held_id = entry.id
    first = retro_match(store, "held", actor=ACTOR)
    assert (first.entries, first.quarantined, first.now_known_sha256) == (1, 1, (a.sha256,))

    # Released after the run passed it: the release takes the watermark back below it.
    release(store, held_id, reason="a genuine surge, checked", actor="test:reviewer")
    again = retro_match(store, "held", actor=ACTOR)
    assert (again.entries, again.now_known_sha256) == (1, (c.sha256,))
    assert retro_match(store, "held", actor=ACTOR).status == "nothing new"

    # Released while a run is under way (between its reading and its recording): that run
    # stops its watermark below the entry, so the next run takes it.
    with store.session() as session:
        row = session.scalars(select(HashSet).where(HashSet.name == "held")).one()
        add_entries(session, row, [Entry(md5=d.md5), Entry(md5="0" * 32, media_id="later")])
        later = session.scalars(select(HashSetEntry).where(HashSetEntry.media_id == "later")).one()
        later.quarantined_at = datetime.now(UTC)
        later_id = later.id
    between = retro.apply_to_workspaces

    def release_first(flags: list[Any]) -> Any:
        release(store, later_id, reason="checked by a reviewer", actor="test:reviewer")
        return between(flags)

    monkeypatch.setattr(retro, "apply_to_workspaces", release_first)
    during = retro_match(store, "held", actor=ACTOR)
    assert (during.entries, during.quarantined, during.now_known_sha256) == (1, 1, (d.sha256,))
    assert during.through == later_id - 1
    monkeypatch.setattr(retro, "apply_to_workspaces", between)
    after = retro_match(store, "held", actor=ACTOR)
    assert (after.status, after.entries, after.quarantined) == ("matched", 1, 0)
