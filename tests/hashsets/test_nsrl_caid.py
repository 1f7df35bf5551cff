"""NIST NSRL "CAID" VICS files: a benign set graded with a code no profile defines.

The real files are published by NIST (nist.gov), which these tests cannot reach, and no PyPI or
Debian package ships one. The document below is built with the properties the issue records of
the published file: a VICS 1.2 ``odata.metadata`` header, 5,411 Media records, ``Category`` 8 on
every record, ``MediaSize`` as a string and lower-case MD5/SHA-1. The hashes are generated; no
real material is involved.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kaitiaki.hashsets import store as hs
from kaitiaki.hashsets.entry import HashSetError, HashSetFormatError
from kaitiaki.hashsets.export import iter_entries
from kaitiaki.hashsets.profiles import PROFILES, get_profile
from kaitiaki.store import Store

RECORDS = 5_411
CONTEXT = "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml/$metadata#Media"


def caid_records(count: int = RECORDS, seed: int = 8) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [
        {
            "odata.id": f"http://localhost/odata/Media({i})",
            "MediaID": i,
            "Category": 8,
            "MD5": f"{rnd.getrandbits(128):032x}",
            "SHA1": f"{rnd.getrandbits(160):040x}",
            "MediaSize": str(rnd.randrange(1, 1 << 26)),
        }
        for i in range(1, count + 1)
    ]


def write_caid(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"odata.metadata": CONTEXT, "value": records}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def caid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    records = caid_records()
    return write_caid(tmp_path_factory.mktemp("nsrl") / "NSRL-CAID.json", records), records


@pytest.mark.parametrize("profile", [None, *PROFILES])
def test_caid_file_imports_with_every_profile(
    store: Store, caid: tuple[Path, list[dict[str, Any]]], profile: str | None
) -> None:
    path, records = caid
    notes: list[str] = []
    row = hs.import_hash_set(store, path, "nsrl", profile=profile, notes=notes, actor="t")
    assert row.entry_count == RECORDS
    used = get_profile(row.profile)
    entries = list(iter_entries(store, "nsrl"))
    assert [e.md5 for e in entries] == [r["MD5"] for r in records]  # already lower case
    assert [e.sha1 for e in entries] == [r["SHA1"] for r in records]
    assert {e.category for e in entries} == {"8"}  # kept as the file wrote it
    # MediaSize came as text: read as the number it spells.
    assert [e.extra["MediaSize"] for e in entries] == [int(r["MediaSize"]) for r in records]
    assert notes[0].startswith(
        f"5,411 entries with category 8, not known to profile {row.profile}: "
        "treated as not pertinent; "
    )
    assert len(notes) == 1
    assert not used.is_pertinent("8") and not used.is_ignorable("8")


def test_category_map_makes_the_set_non_pertinent(
    store: Store, caid: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, _ = caid
    notes: list[str] = []
    row = hs.import_hash_set(
        store, path, "nsrl", profile="dhs-legacy", category_map=["8=5"], notes=notes, actor="t"
    )
    assert row.entry_count == RECORDS
    entries = list(iter_entries(store, "nsrl"))
    assert {e.category for e in entries} == {"5"}  # DHS legacy's non-pertinent code
    assert {e.extra["SourceCategory"] for e in entries} == {"8"}  # the file's code is kept
    assert get_profile("dhs-legacy").is_ignorable("5")
    assert notes == [
        "5,411 entries with category 8 mapped to 5 (Non-pertinent); the file's code is kept "
        "as SourceCategory"
    ]


@pytest.mark.parametrize(
    ("profile", "items", "message"),
    [
        ("projectvic-us-2.0", ["1=0"], "'1' is a code of profile 'projectvic-us-2.0' already"),
        ("projectvic-us-2.0", ["8=9"], "'9' is not a code of profile"),
        ("none", ["8=0"], "profile 'none' has no categories"),
        ("projectvic-us-2.0", ["8"], "is not FROM=TO"),
        ("projectvic-us-2.0", ["8=0", "08=4"], "'08' is mapped to both '0' and '4'"),
    ],
)
def test_bad_category_maps_are_refused_before_anything_is_stored(
    store: Store,
    caid: tuple[Path, list[dict[str, Any]]],
    profile: str,
    items: list[str],
    message: str,
) -> None:
    with pytest.raises(HashSetError, match=message):
        hs.import_hash_set(store, caid[0], "x", profile=profile, category_map=items, actor="t")
    assert hs.list_hash_sets(store) == []


def test_media_size_that_is_no_number_is_kept_and_noted(store: Store, tmp_path: Path) -> None:
    records = caid_records(3)
    records[1]["MediaSize"] = "unknown"
    notes: list[str] = []
    hs.import_hash_set(store, write_caid(tmp_path / "c.json", records), "c", notes=notes, actor="t")
    sizes = [e.extra["MediaSize"] for e in iter_entries(store, "c")]
    assert sizes == [int(records[0]["MediaSize"]), "unknown", int(records[2]["MediaSize"])]
    assert notes[-1] == (
        "1 entry with a MediaSize that is not a number: kept as written, not used as a size"
    )


def test_an_unreadable_record_still_refuses_the_file(store: Store, tmp_path: Path) -> None:
    records = caid_records(3)
    del records[2]["MD5"]
    with pytest.raises(HashSetFormatError, match=r"Media record #3 \(MediaID 3\): no MD5"):
        hs.import_hash_set(store, write_caid(tmp_path / "c.json", records), "c", actor="t")
    assert hs.list_hash_sets(store) == []


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from kaitiaki.cli import app as root

    root._register()
    return root.app


def test_cli_reports_unknown_codes_and_takes_a_map_file(
    app: typer.Typer, store_url: str, caid: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    path, _ = caid
    runner = CliRunner()
    plain = runner.invoke(app, ["hashset", "import", str(path), "--name", "a", "--db", store_url])
    assert plain.exit_code == 0, plain.output
    assert "imported 5411 entries into hash set 'a' (profile projectvic-us-2.0" in plain.stdout
    assert (
        "note: 5,411 entries with category 8, not known to profile projectvic-us-2.0: treated "
        "as not pertinent; map with --category-map 8=0 if it is non-pertinent"
    ) in plain.stdout
    map_file = tmp_path / "caid.map"
    map_file.write_text("# NSRL CAID: benign\n8=0\n")
    mapped = runner.invoke(
        app,
        [
            "hashset",
            "import",
            str(path),
            "--name",
            "b",
            "--category-map-file",
            str(map_file),
            "--db",
            store_url,
        ],
    )
    assert mapped.exit_code == 0, mapped.output
    assert "5,411 entries with category 8 mapped to 0 (Non-Pertinent)" in mapped.stdout
    bad = runner.invoke(
        app,
        ["hashset", "import", str(path), "--name", "c", "--category-map", "8=7", "--db", store_url],
    )
    assert bad.exit_code == 1
    assert "category map '8=7': category '7' is not a code of profile" in bad.stderr


def test_job_takes_the_map_and_returns_the_notes(
    store: Store, caid: tuple[Path, list[dict[str, Any]]]
) -> None:
    # The web upload queues this job; its form field "category_map" becomes this list.
    from kaitiaki.jobs import DONE, FAILED, JobRunner, get_job, submit
    from kaitiaki.jobs.params import JobParamsError

    with pytest.raises(JobParamsError, match="is not FROM=TO"):
        submit(
            store,
            "import_hash_set",
            {"path": str(caid[0]), "name": "j", "category_map": ["8"]},
            by="alice",
        )
    params = {"path": str(caid[0]), "name": "j", "category_map": ["8=0"]}
    job_id = submit(store, "import_hash_set", params, by="alice")
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    runner.start()
    try:
        # Generous: under a loaded test run the 5,411-entry import takes well over 30 s.
        deadline = time.monotonic() + 300
        while True:
            job = get_job(store, job_id)
            if job.status in (DONE, FAILED) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        assert runner.stop()
    assert job.status == DONE, job.error
    assert job.result["entries"] == RECORDS
    assert job.result["notes"] == [
        "5,411 entries with category 8 mapped to 0 (Non-Pertinent); the file's code is kept "
        "as SourceCategory"
    ]


def test_web_form_field_is_split_and_checked() -> None:
    from fastapi import HTTPException

    from kaitiaki.web.api.hashsets import _import_params

    fields = {"name": "nsrl", "category_map": "8=0, 9=0\n10=0"}
    assert _import_params(fields).category_map == ["8=0", "9=0", "10=0"]
    with pytest.raises(HTTPException, match="category_map: category map item '8' is not"):
        _import_params({"name": "nsrl", "category_map": "8"})
