"""Importing into and exporting from the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hashset_samples import media, photodna, row_counts, v2_context

from kaitiaki.hashsets import store as hs
from kaitiaki.hashsets.entry import (
    HashSetError,
    HashSetExistsError,
    HashSetFormatError,
    HashSetMissingError,
)
from kaitiaki.hashsets.export import export_hash_set, iter_entries
from kaitiaki.hashsets.profiles import UnknownProfileError
from kaitiaki.hashsets.vics import iter_vics_file
from kaitiaki.store import Store

WriteVics = Callable[..., Path]


def test_import_vics_records_set_and_entries(store: Store, write_vics: WriteVics) -> None:
    rnd = random.Random(3)
    records = [media(i, rnd, PhotoDNA=photodna(rnd)) for i in range(1, 8)]
    records[0]["Category"] = "A"  # CAID grades are letters
    for record in records[1:]:
        record["Category"] = "0"
    path = write_vics(records, bom=True, context=v2_context("UK"))
    row = hs.import_hash_set(store, path, "caid", source="CAID", actor="cli:tester")
    assert row.profile == "uk-caid"  # chosen by the header's UK segment
    assert row.entry_count == 7 and row.pdq_threshold == 31 and row.enabled
    assert row.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert row.source_format == "vics" and row.source == "CAID"
    got = list(iter_entries(store, "caid"))
    assert [e.md5 for e in got] == [r["MD5"].lower() for r in records]
    assert [e.category for e in got] == ["A"] + ["0"] * 6
    assert got[0].photodna == records[0]["PhotoDNA"]
    assert hs.count_entries(store) == 7


def test_us_header_and_explicit_profile(store: Store, write_vics: WriteVics) -> None:
    path = write_vics([media(1, Category=5)])
    notes: list[str] = []
    row = hs.import_hash_set(store, path, "us", notes=notes, actor="cli:tester")
    # 5 is no Project VIC US code: kept, reported, not refused.
    assert row.profile == "projectvic-us-2.0"
    assert [e.category for e in iter_entries(store, "us")] == ["5"]
    assert notes == [
        "1 entry with category 5, not known to profile projectvic-us-2.0: treated as not "
        "pertinent; map with --category-map 5=0 if it is non-pertinent"
    ]
    row = hs.import_hash_set(
        store, path, "dhs", profile="dhs-legacy", threshold=20, actor="cli:tester"
    )
    assert (row.profile, row.pdq_threshold) == ("dhs-legacy", 20)


def test_malformed_json_after_several_batches_leaves_nothing(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hs, "BATCH", 3)  # several batches are inserted before the error
    good = ",".join(json.dumps(media(i)) for i in range(1, 11))
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"@odata.context": v2_context()})[:-1] + ',"value":[' + good + ',{"MD5":]}'
    )
    with pytest.raises(HashSetFormatError, match="after Media record #10") as caught:
        hs.import_hash_set(store, path, "bad", actor="cli:tester")
    assert "byte offset" in caught.value.where
    assert row_counts(store) == (0, 0)


@pytest.mark.parametrize(
    ("record", "reason"),
    [({"MediaID": 99, "SHA1": "AB" * 20}, "no MD5"), ({"MD5": "G" * 32}, "not 32 hex")],
)
def test_bad_record_leaves_nothing(
    store: Store,
    write_vics: WriteVics,
    monkeypatch: pytest.MonkeyPatch,
    record: dict[str, object],
    reason: str,
) -> None:
    monkeypatch.setattr(hs, "BATCH", 2)
    path = write_vics([media(i) for i in range(1, 6)] + [record], cases=True)
    with pytest.raises(HashSetFormatError, match=reason) as caught:
        hs.import_hash_set(store, path, "bad", actor="cli:tester")
    assert caught.value.where.startswith("Media record #6")
    assert row_counts(store) == (0, 0)


def test_duplicate_name_refused(store: Store, write_vics: WriteVics) -> None:
    hs.import_hash_set(store, write_vics([media(1)]), "pv", actor="cli:tester")
    with pytest.raises(HashSetExistsError, match="'pv' already exists"):
        hs.import_hash_set(store, write_vics([media(2)]), "pv", actor="cli:tester")
    assert row_counts(store) == (1, 1)


def test_plain_list_with_bad_line_leaves_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"{'a' * 32}\n{'b' * 40}\n{'c' * 64}\npdq:{'d' * 64}\nnot a hash\n")
    with pytest.raises(HashSetFormatError, match=r"list\.txt: line 5: 'not a hash'"):
        hs.import_hash_set(store, path, "list", hex64="sha256", actor="cli:tester")
    assert row_counts(store) == (0, 0)
    path.write_text(f"\ufeff{'a' * 32}\n{'b' * 40}\n{'c' * 64}\npdq:{'d' * 64}\n")
    row = hs.import_hash_set(store, path, "list", hex64="sha256", actor="cli:tester")
    assert (row.source_format, row.profile, row.entry_count) == ("list", "none", 4)
    got = [e.hashes() for e in iter_entries(store, "list")]
    assert got == [{"md5": "a" * 32}, {"sha1": "b" * 40}, {"sha256": "c" * 64}, {"pdq": "d" * 64}]


def test_csv_with_column_map_and_bad_row(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text(f"Hash,Cat\n{'a' * 32},A1\n{'b' * 32},B3\n")
    columns = {"md5": "Hash", "category": "Cat"}
    notes: list[str] = []
    hs.import_hash_set(store, path, "n1", columns=columns, notes=notes, actor="cli:tester")
    # No profile is "none": its codes are unknown to it, kept and reported (ncmec has no
    # non-pertinent code, so the hint names a profile that has one).
    assert [e.category for e in iter_entries(store, "n1")] == ["A1", "B3"]
    assert [n.split(":")[0] for n in notes] == [
        "1 entry with category A1, not known to profile none",
        "1 entry with category B3, not known to profile none",
    ]
    assert "e.g. --profile projectvic-us-2.0 --category-map A1=0" in notes[0]
    path.write_text(f"Hash,Cat\n{'a' * 32},a1\n{'b' * 32},\n")
    row = hs.import_hash_set(store, path, "n", profile="ncmec", columns=columns, actor="cli:tester")
    assert [e.category for e in iter_entries(store, "n")] == ["A1", None]
    assert row.source_format == "csv"


def test_store_roundtrip_vics(store: Store, write_vics: WriteVics, tmp_path: Path) -> None:
    rnd = random.Random(5)
    records = [
        media(i, rnd, PhotoDNA=photodna(rnd), Exifs=[{"PropertyName": "Make", "Value": "X"}])
        for i in range(20)
    ]
    records[3]["AlternativeHashes"] = [{"HashName": "SHA256", "HashValue": "AB" * 32}]
    hs.import_hash_set(store, write_vics(records), "first", actor="cli:tester")
    out = tmp_path / "export.json"
    assert export_hash_set(store, "first", "vics", out) == 20
    assert json.loads(out.read_text())["@odata.context"] == v2_context("US")
    hs.import_hash_set(store, out, "second", actor="cli:tester")
    assert list(iter_entries(store, "second")) == list(iter_entries(store, "first"))
    assert [p.entry for p in iter_vics_file(out)] == list(iter_entries(store, "first"))


def test_export_list(store: Store, write_vics: WriteVics, tmp_path: Path) -> None:
    hs.import_hash_set(store, write_vics([media(1), media(2)]), "pv", actor="cli:tester")
    out = tmp_path / "pv.txt"
    assert export_hash_set(store, "pv", "list", out) == 2
    lines = out.read_text().splitlines()
    assert lines[0].startswith("#") and lines[1:] == [
        media(1)["MD5"].lower(),
        media(2)["MD5"].lower(),
    ]


def test_vics_export_of_set_without_md5_fails_without_leaving_a_file(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "l.txt"
    path.write_text("sha256:" + "a" * 64 + "\n")
    hs.import_hash_set(store, path, "sha", actor="cli:tester")
    out = tmp_path / "sha.json"
    with pytest.raises(HashSetError, match="no MD5"):
        export_hash_set(store, "sha", "vics", out)
    assert list(tmp_path.glob("*sha.json*")) == []


def test_list_enable_disable_remove(store: Store, write_vics: WriteVics) -> None:
    hs.import_hash_set(store, write_vics([media(1), media(2)]), "b", actor="cli:tester")
    hs.import_hash_set(store, write_vics([media(3)]), "a", actor="cli:tester")
    assert [r.name for r in hs.list_hash_sets(store)] == ["a", "b"]
    assert not hs.set_enabled(store, "b", False, actor="cli:tester").enabled
    assert not hs.get_hash_set(store, "b").enabled
    assert hs.set_enabled(store, "b", True, actor="cli:tester").enabled
    assert hs.remove_hash_set(store, "b", actor="cli:tester") == 2
    assert row_counts(store) == (1, 1)
    with pytest.raises(HashSetMissingError):
        hs.remove_hash_set(store, "b", actor="cli:tester")


def test_argument_errors(store: Store, write_vics: WriteVics, tmp_path: Path) -> None:
    path = write_vics([media(1)])
    with pytest.raises(UnknownProfileError):
        hs.import_hash_set(store, path, "x", profile="caid", actor="cli:tester")
    with pytest.raises(HashSetError, match="threshold"):
        hs.import_hash_set(store, path, "x", threshold=300, actor="cli:tester")
    with pytest.raises(HashSetError, match="no such file"):
        hs.import_hash_set(store, tmp_path / "missing.json", "x", actor="cli:tester")
    empty = write_vics([])
    with pytest.raises(HashSetFormatError, match="no entries"):
        hs.import_hash_set(store, empty, "x", actor="cli:tester")
    assert row_counts(store) == (0, 0)
