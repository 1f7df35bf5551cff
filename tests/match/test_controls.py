"""False-match controls on SQLite and PostgreSQL: allowlist banks cancel other banks' matches
of the same content, in lookups and in scans; quarantined and disabled entries match nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kaitiaki.hashsets.curate import add_entry, create_bank, update_bank, update_entry
from kaitiaki.match.classify import Label, classify
from kaitiaki.match.lookup import lookup_signal
from kaitiaki.match.matcher import Matcher
from kaitiaki.scan.export import result_rows
from kaitiaki.scan.runner import run_scan
from kaitiaki.store import Store
from kaitiaki.store.models import HashSetEntry

ACTOR = "test:curator"
# threatexchange's PdqSignal.get_examples()[0]: a real PDQ hash.
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def flip(hex_hash: str, bits: int) -> str:
    """``hex_hash`` at Hamming distance ``bits`` (its first bits inverted)."""
    return f"{int(hex_hash, 16) ^ (((1 << bits) - 1) << (256 - bits)):064x}"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def banks(store: Store) -> None:
    create_bank(store, "KNOWN", enabled=True, actor=ACTOR)
    create_bank(store, "OTHER", enabled=True, actor=ACTOR)
    create_bank(store, "SAFE", enabled=True, actor=ACTOR, allowlist=True)


def test_allowlist_cancels_matches_of_the_same_content_in_lookups(store: Store) -> None:
    banks(store)
    cleared, plain = md5(b"cleared"), md5(b"plain")
    known = add_entry(store, "KNOWN", {"md5": cleared, "pdq": PDQ}, actor=ACTOR)
    other = add_entry(store, "OTHER", {"md5": cleared}, actor=ACTOR)
    only = add_entry(store, "KNOWN", {"md5": plain}, actor=ACTOR)
    # The allowlist holds a near-duplicate PDQ (distance 3) and the same MD5.
    safe = add_entry(store, "SAFE", {"md5": cleared, "pdq": flip(PDQ, 3)}, actor=ACTOR)

    hits = {h.entry_id: h for h in lookup_signal(store, "md5", cleared)}
    assert set(hits) == {known, other, safe}
    assert hits[known].suppressed_by == hits[other].suppressed_by == "SAFE"
    assert not hits[known].counts and not hits[other].counts
    assert hits[safe].allowlist and hits[safe].suppressed_by is None and not hits[safe].counts

    # Asked of one bank only, the allowlist still cancels (it is asked without being named).
    asked = lookup_signal(store, "md5", cleared, banks={"KNOWN"})
    assert {(h.bank, h.suppressed_by) for h in asked if not h.allowlist} == {("KNOWN", "SAFE")}

    # PDQ: within the threshold of the allowlist's entry is the same content.
    by_pdq = {h.entry_id: h for h in lookup_signal(store, "pdq", PDQ)}
    assert by_pdq[known].suppressed_by == "SAFE" and by_pdq[safe].distance == 3

    # Content the allowlist does not list is untouched.
    (alone,) = lookup_signal(store, "md5", plain)
    assert (alone.entry_id, alone.suppressed_by, alone.counts) == (only, None, True)

    # A switched-off allowlist cancels nothing.
    update_bank(store, "SAFE", actor=ACTOR, enabled=False)
    hits = {h.entry_id: h for h in lookup_signal(store, "md5", cleared)}
    assert set(hits) == {known, other}
    assert hits[known].counts and hits[other].counts


def test_quarantined_and_disabled_entries_do_not_match(store: Store) -> None:
    banks(store)
    value = md5(b"held")
    held = add_entry(store, "KNOWN", {"md5": value}, actor=ACTOR)
    off = add_entry(store, "OTHER", {"md5": value}, actor=ACTOR)
    with store.session() as session:
        entry = session.get(HashSetEntry, held)
        assert entry is not None
        entry.quarantined_at = datetime.now(UTC)
    update_entry(
        store, "OTHER", off, actor=ACTOR, disabled_until=datetime.now(UTC) + timedelta(days=1)
    )
    hits = {h.entry_id: h for h in lookup_signal(store, "md5", value)}
    assert hits[held].quarantined and not hits[held].counts
    assert hits[off].disabled and not hits[off].counts

    # A disabled entry whose time has passed matches again.
    update_entry(
        store, "OTHER", off, actor=ACTOR, disabled_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    hits = {h.entry_id: h for h in lookup_signal(store, "md5", value)}
    assert hits[off].counts and not hits[off].disabled

    # A quarantined or disabled allowlist entry cancels nothing.
    safe = add_entry(store, "SAFE", {"md5": value}, actor=ACTOR)
    assert lookup_signal(store, "md5", value, banks={"OTHER"})[0].suppressed_by == "SAFE"
    update_entry(
        store, "SAFE", safe, actor=ACTOR, disabled_until=datetime.now(UTC) + timedelta(hours=1)
    )
    hits = {h.entry_id: h for h in lookup_signal(store, "md5", value)}
    assert hits[off].counts and hits[off].suppressed_by is None


def test_scan_reports_a_suppressed_file_naming_the_allowlist(store: Store, tmp_path: Path) -> None:
    banks(store)
    root = tmp_path / "device"
    root.mkdir()
    files = {name: f"benign {name} content\n".encode() for name in ("a", "b", "c", "d", "e")}
    for name, data in files.items():
        (root / f"{name}.txt").write_bytes(data)
    add_entry(store, "KNOWN", {"md5": md5(files["a"])}, actor=ACTOR)
    add_entry(store, "SAFE", {"md5": md5(files["a"])}, actor=ACTOR)
    add_entry(store, "KNOWN", {"md5": md5(files["b"])}, actor=ACTOR)
    held = add_entry(store, "KNOWN", {"md5": md5(files["c"])}, actor=ACTOR)
    off = add_entry(store, "KNOWN", {"md5": md5(files["d"])}, actor=ACTOR)
    add_entry(store, "SAFE", {"md5": md5(files["e"])}, actor=ACTOR)
    with store.session() as session:
        entry = session.get(HashSetEntry, held)
        assert entry is not None
        entry.quarantined_at = datetime.now(UTC)
    update_entry(
        store, "KNOWN", off, actor=ACTOR, disabled_until=datetime.now(UTC) + timedelta(days=30)
    )

    # Only KNOWN is asked for: the allowlist applies all the same.
    run_scan(store, [root], "device-1", ["KNOWN"], workers=1, actor=ACTOR)

    rows = {Path(r["path"]).name: r for r in result_rows(store, "device-1")}
    assert (rows["a.txt"]["classification"], rows["a.txt"]["hash_set"]) == ("suppressed", "SAFE")
    assert (rows["b.txt"]["classification"], rows["b.txt"]["hash_set"]) == ("known", "KNOWN")
    assert rows["c.txt"]["classification"] == "new"  # quarantined: no match
    assert rows["d.txt"]["classification"] == "new"  # disabled: no match
    # On the allowlist alone: known and not material, as a non-pertinent set's entry is.
    assert (rows["e.txt"]["classification"], rows["e.txt"]["hash_set"]) == ("ignorable", "SAFE")


def test_matcher_marks_cancelled_hits(store: Store) -> None:
    banks(store)
    value = md5(b"listed twice")
    add_entry(store, "KNOWN", {"md5": value}, actor=ACTOR)
    add_entry(store, "SAFE", {"md5": value}, actor=ACTOR)

    class Item:
        md5, sha1, sha256, pdq = value, None, None, None

    (hits,) = Matcher.load(store, ["KNOWN"]).match_digests([Item()])
    assert {(h.hash_set, h.allowlist, h.suppressed_by) for h in hits} == {
        ("KNOWN", False, "SAFE"),
        ("SAFE", True, None),
    }
    verdict = classify(hits, None)
    assert verdict.label == Label.SUPPRESSED
    assert verdict.best is not None and verdict.best.hash_set == "SAFE"
    known = next(h for h in hits if h.hash_set == "KNOWN")
    assert known.as_json("q")["suppressed_by"] == "SAFE"


def test_an_allowlist_is_imported_from_the_command_line(store: Store, tmp_path: Path) -> None:
    from in_process import kaitiaki

    create_bank(store, "KNOWN", enabled=True, actor=ACTOR)
    value = md5(b"cleared by list")
    known = add_entry(store, "KNOWN", {"md5": value}, actor=ACTOR)
    listed = tmp_path / "safe.txt"
    listed.write_text(f"{value}\n")
    args = ["hashset", "import", str(listed), "--name", "safe-list", "--allowlist"]
    done = kaitiaki(*args, "--db", store.url)
    assert done.exit_code == 0, done.output
    shown = kaitiaki("hashset", "list", "--db", store.url)
    assert "yes (allowlist)" in shown.stdout
    hits = {h.entry_id: h for h in lookup_signal(store, "md5", value)}
    assert hits[known].suppressed_by == "safe-list"


def test_a_catalog_object_on_an_allowlist_is_not_flagged(store: Store, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kaitiaki.operation.flag import flag_catalog

    banks(store)
    cleared, wanted = md5(b"catalogued, cleared"), md5(b"catalogued, wanted")
    add_entry(store, "KNOWN", {"md5": cleared}, actor=ACTOR)
    add_entry(store, "KNOWN", {"md5": wanted}, actor=ACTOR)
    add_entry(store, "SAFE", {"md5": cleared}, actor=ACTOR)
    rows = [
        {"object_id": f"o-{i}", "md5": v, "sha1": None, "sha256": None, "pdq": None}
        for i, v in enumerate((cleared, wanted, md5(b"unknown")))
    ]
    catalog = tmp_path / "catalog.parquet"
    schema = pa.schema([(c, pa.string()) for c in ("object_id", "md5", "sha1", "sha256", "pdq")])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), catalog)
    result = flag_catalog(store, [catalog], tmp_path / "flags.parquet")
    assert (result.checked, result.flagged) == (3, 1)
    flagged = pq.read_table(result.path).to_pylist()
    assert [(r["object_id"], r["hash_set"]) for r in flagged] == [("o-1", "KNOWN")]
