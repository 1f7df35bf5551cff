"""``write_disclosure`` on a real analysed (simulated, benign) operation: what the package holds,
that it verifies as a referral package does, how it is recorded, and what it refuses."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from disclose_samples import Analysed, analyse_with_evidence, busiest_subject_account, parquet_rows
from sqlalchemy import func, select

from kaitiaki.legal import disclosure as disclosure_module
from kaitiaki.legal.disclosure import (
    DisclosureError,
    check_request_ref,
    default_out,
    write_disclosure,
)
from kaitiaki.records import ingested_files
from kaitiaki.refer.signing import SigningKeyError, generate_key, public_path, verify_package
from kaitiaki.store.models import AuditEvent, CyberTipReport, Disclosure

# Signatures of image formats, looked for anywhere in a file (an image could be embedded).
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"WEBP", b"ftypavif")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Analysed:
    a = analyse_with_evidence(tmp_path_factory.mktemp("disclose"))
    _, subject = busiest_subject_account(a.store)
    with a.store.session() as session:
        common: dict[str, Any] = {"subject_id": subject, "document": "<report/>", "created_by": "t"}
        session.add_all(
            [
                CyberTipReport(
                    **common,
                    state="finished",
                    document_sha256="a" * 64,
                    ncmec_report_id=4564654,
                    submitted_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
                    finished_at=datetime(2026, 3, 1, 9, 45, tzinfo=UTC),
                ),
                # A draft never sent: NCMEC gave it no id, so it is no report to disclose.
                CyberTipReport(**common, state="draft", document_sha256="b" * 64),
            ]
        )
    return a


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_key(tmp_path_factory.mktemp("keys") / "k.pem")


def _write(a: Analysed, out: Path, key: Path, ref: str, **options: Any) -> Any:
    account, _ = busiest_subject_account(a.store)
    return write_disclosure(
        a.store,
        a.workspace,
        account_id=options.pop("account_id", account),
        request_ref=ref,
        out=out,
        key=key,
        actor="cli:ana",
        **options,
    )


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _records(a: Analysed, ref: str) -> list[Disclosure]:
    with a.store.session() as session:
        rows = list(session.scalars(select(Disclosure).where(Disclosure.request_ref == ref)))
        session.expunge_all()
    return rows


def test_package_holds_the_accounts_records_exactly(
    analysed: Analysed, key: Path, tmp_path: Path
) -> None:
    account, _ = busiest_subject_account(analysed.store)
    result = _write(analysed, tmp_path / "pkg", key, "SW-2026-0001")
    folder = result.folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "disclosure.json",
        "flagged_files.csv",
        "ip_log.csv",
        "manifest.json",
        "manifest.sig",
        "public_key.pem",
        "reports.json",
        "subscriber.json",
    ]

    subscriber = json.loads((folder / "subscriber.json").read_text())
    expected_people = parquet_rows(analysed.workspace, "accounts", account)
    assert expected_people
    assert [r["fields"] for r in subscriber["records"]] == [
        {k: v for k, v in row.items() if k not in ("source_sha256", "source_row")}
        for row in expected_people
    ]
    assert {"username", "email", "phone", "device_id"} <= set(subscriber["records"][0]["fields"])

    events = sorted(
        parquet_rows(analysed.workspace, "records", account),
        key=lambda r: (r["timestamp"], r["ip"], r["port"], r["action"], r["object_id"]),
    )
    log = _csv(folder / "ip_log.csv")
    assert len(log) == len(events) == result.events > 0
    for row, event in zip(log, events, strict=True):
        assert row["port"] and int(row["port"]) == event["port"]
        assert row["ip"] == event["ip"] and row["action"] == event["action"]
        assert row["object_id"] == event["object_id"]
        moment = datetime.fromisoformat(row["time_utc"].replace("Z", "+00:00"))
        assert row["time_utc"].endswith("Z") and moment == event["timestamp"]

    touched = {e["object_id"] for e in events}
    flags = [
        f
        for f in pq.read_table(analysed.workspace / "flagged_objects.parquet").to_pylist()
        if f["object_id"] in touched
    ]
    catalog = {
        r["object_id"]: r
        for path in ingested_files(analysed.workspace, "catalog")
        for r in pq.read_table(path).to_pylist()
    }
    flagged = _csv(folder / "flagged_files.csv")
    assert {(r["object_id"], r["hash_set"], r["category"]) for r in flagged} == {
        (f["object_id"], f["hash_set"], f["category"]) for f in flags
    }
    assert flagged and result.flagged_files == len({f["object_id"] for f in flags})
    for row in flagged:
        for column in ("md5", "sha1", "sha256"):
            assert row[column] == catalog[row["object_id"]][column].lower()
        assert int(row["events"]) == sum(e["object_id"] == row["object_id"] for e in events)
        assert row["file"] == ""

    reports = json.loads((folder / "reports.json").read_text())["cybertipline_reports"]
    assert reports == [
        {
            "ncmec_report_id": 4564654,
            "state": "finished",
            "environment": "test",
            "submitted_at": "2026-03-01T09:30:00Z",
            "finished_at": "2026-03-01T09:45:00Z",
        }
    ]
    meta = json.loads((folder / "disclosure.json").read_text())
    assert meta["kind"] == "kaitiaki-disclosure"
    assert (meta["request_ref"], meta["account_id"], meta["platform"]) == (
        "SW-2026-0001",
        account,
        "provider",
    )
    assert meta["generated_by"] == "cli:ana" and meta["includes"]["files"] is False
    assert meta["counts"]["ip_log_events"] == len(events)
    assert meta["files_confirmed_by"] is None


def test_default_package_holds_no_image_bytes(
    analysed: Analysed, key: Path, tmp_path: Path
) -> None:
    result = _write(analysed, tmp_path / "pkg", key, "SW-2026-0002")
    assert not (result.folder / "files").exists()
    for path in result.folder.rglob("*"):
        data = path.read_bytes()
        assert not any(magic in data for magic in IMAGE_MAGIC), path.name
        assert not data.startswith((b"BM", b"II*\x00", b"MM\x00*")), path.name


def test_files_need_a_confirmation_and_then_come_from_the_evidence(
    analysed: Analysed, key: Path, tmp_path: Path
) -> None:
    with pytest.raises(DisclosureError, match="confirmation"):
        _write(analysed, tmp_path / "refused", key, "SW-2026-0003", include_files=True)
    with pytest.raises(DisclosureError, match="confirmation"):
        _write(
            analysed,
            tmp_path / "refused",
            key,
            "SW-2026-0003",
            include_files=True,
            files_confirmed_by="   ",
        )
    assert not (tmp_path / "refused").exists() and not _records(analysed, "SW-2026-0003")

    result = _write(
        analysed,
        tmp_path / "pkg",
        key,
        "SW-2026-0003",
        include_files=True,
        files_confirmed_by="Ana Trust",
    )
    flagged = _csv(result.folder / "flagged_files.csv")
    expected = {r["sha256"] for r in flagged if r["sha256"] in analysed.images}
    assert expected and result.files == len(expected)
    written = {p.name: p.read_bytes() for p in (result.folder / "files").iterdir()}
    assert written == {f"{sha}.png": analysed.images[sha] for sha in expected}
    for row in flagged:
        assert row["file"] == (f"files/{row['sha256']}.png" if row["sha256"] in expected else "")
    manifest = json.loads((result.folder / "manifest.json").read_text())["files"]
    assert {f"files/{sha}.png" for sha in expected} <= set(manifest)
    meta = json.loads((result.folder / "disclosure.json").read_text())
    assert meta["includes"]["files"] is True and meta["files_confirmed_by"] == "Ana Trust"
    (row,) = _records(analysed, "SW-2026-0003")
    assert row.includes_files and row.files_confirmed_by == "Ana Trust"
    assert verify_package(result.folder, public_path(key)).ok


def test_signature_verifies_and_tampering_fails(
    analysed: Analysed, key: Path, tmp_path: Path
) -> None:
    result = _write(analysed, tmp_path / "pkg", key, "SW-2026-0004")
    checked = verify_package(result.folder, public_path(key))
    assert checked.ok and checked.origin_proven
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["kind"] == "kaitiaki-disclosure"
    assert set(manifest["files"]) == {
        "disclosure.json",
        "subscriber.json",
        "ip_log.csv",
        "flagged_files.csv",
        "reports.json",
    }
    log = result.folder / "ip_log.csv"
    log.write_text(log.read_text().replace(",", ";", 1))
    tampered = verify_package(result.folder, public_path(key))
    assert not tampered.ok and tampered.altered == ["ip_log.csv"]
    (result.folder / "extra.txt").write_text("added later")
    assert verify_package(result.folder).extra == ["extra.txt"]
    other = generate_key(tmp_path / "other.pem")
    assert not verify_package(result.folder, public_path(other)).signature_valid


def test_recorded_against_the_request_with_an_audit_entry(
    analysed: Analysed, key: Path, tmp_path: Path
) -> None:
    account, _ = busiest_subject_account(analysed.store)
    result = _write(analysed, tmp_path / "pkg", key, "SW-2026-0005", platform="ExampleCloud")
    (row,) = _records(analysed, "SW-2026-0005")
    assert (row.id, row.account_id, row.platform, row.package_name) == (
        result.disclosure_id,
        account,
        "ExampleCloud",
        "pkg",
    )
    assert row.package_sha256 == result.manifest_sha256 and row.created_by == "cli:ana"
    assert not row.includes_files and row.files_confirmed_by is None
    with analysed.store.session() as session:
        entries = [
            e
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "disclosure.written")
            )
            if (e.details or {}).get("request_ref") == "SW-2026-0005"
        ]
        (entry,) = entries
        assert (entry.actor, entry.target_type, entry.target_id) == (
            "cli:ana",
            "account",
            account,
        )
        assert entry.details["manifest_sha256"] == result.manifest_sha256
        assert entry.details["disclosure_id"] == result.disclosure_id


def test_references_are_kept_as_written_and_folder_names_made_safe() -> None:
    # Courts write references with slashes and spaces; they are kept, only the folder is safe.
    assert check_request_ref("  SW/2026 117 ") == "SW/2026 117"
    assert default_out("../etc", "acct/1") == Path("disclosure-etc-acct_1")
    assert default_out("SW/2026 117", "a") == Path("disclosure-SW_2026_117-a")
    assert default_out("§§", "..") == Path("disclosure-request-account")


@pytest.mark.parametrize("ref", ["", "   ", "x" * 201, "a\x00b", "two\nlines", "tab\there"])
def test_bad_request_references_are_refused(
    analysed: Analysed, key: Path, tmp_path: Path, ref: str
) -> None:
    with pytest.raises(DisclosureError, match="reference"):
        _write(analysed, tmp_path / "pkg", key, ref)
    assert not (tmp_path / "pkg").exists()


def test_refusals_leave_nothing(analysed: Analysed, key: Path, tmp_path: Path) -> None:
    before = _count(analysed)
    with pytest.raises(DisclosureError, match="'no-such-account'"):
        _write(analysed, tmp_path / "a", key, "SW-2026-0006", account_id="no-such-account")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("earlier")
    with pytest.raises(DisclosureError, match="already exists"):
        _write(analysed, taken, key, "SW-2026-0006")
    with pytest.raises(SigningKeyError):
        _write(analysed, tmp_path / "b", tmp_path / "missing.pem", "SW-2026-0006")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (taken / "x").read_text() == "earlier" and _count(analysed) == before
    # An empty folder made beforehand is used.
    (tmp_path / "empty").mkdir()
    assert _write(analysed, tmp_path / "empty", key, "SW-2026-0006").folder.is_dir()


def test_a_record_that_fails_leaves_no_package(
    analysed: Analysed, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit log unavailable")

    before = _count(analysed)
    monkeypatch.setattr(disclosure_module, "record", broken)
    with pytest.raises(RuntimeError, match="audit log unavailable"):
        _write(analysed, tmp_path / "pkg", key, "SW-2026-0007")
    assert list(tmp_path.iterdir()) == [] and _count(analysed) == before


def _count(a: Analysed) -> int:
    with a.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Disclosure)) or 0)


def test_a_rename_that_fails_leaves_no_record(
    analysed: Analysed, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Path, target: object) -> Path:
        raise OSError(28, "No space left on device")

    before = _count(analysed)
    monkeypatch.setattr(Path, "rename", broken)
    with pytest.raises(OSError, match="No space"):
        _write(analysed, tmp_path / "pkg", key, "SW-2026-0008")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == [] and _count(analysed) == before


def test_content_missing_from_the_evidence_is_listed_without_its_path(
    analysed: Analysed, key: Path, tmp_path: Path
) -> None:
    first = _write(analysed, tmp_path / "first", key, "SW-2026-0009")
    sha = next(r["sha256"] for r in _csv(first.folder / "flagged_files.csv"))
    evidence = analysed.root / "evidence"
    (moved,) = [p for p in evidence.iterdir() if analysed.images[sha] == p.read_bytes()]
    aside = analysed.root / moved.name
    moved.rename(aside)
    try:
        result = _write(
            analysed,
            tmp_path / "pkg",
            key,
            "SW-2026-0010",
            include_files=True,
            files_confirmed_by="Ana Trust",
        )
    finally:
        aside.rename(moved)
    assert not (result.folder / "files" / f"{sha}.png").exists()
    text = (result.folder / "disclosure.json").read_text()
    listed = {u["sha256"]: u["reason"] for u in json.loads(text)["files_unavailable"]}
    assert listed[sha] == "the evidence holding this content is not on this server"
    # The others: flagged by a nearby PDQ only, content the provider's evidence never held.
    others = {s for s in listed if s != sha}
    assert others == {r["sha256"] for r in _csv(first.folder / "flagged_files.csv")} - set(
        analysed.images
    )
    assert {listed[s] for s in others} <= {"no evidence instance holds this content"}
    assert result.files_unavailable == len(listed) and str(evidence) not in text


def test_csv_cells_from_the_provider_cannot_run_as_formulas(tmp_path: Path) -> None:
    # Object ids and addresses come from the provider's export; a spreadsheet must show them.
    row = {"time_utc": "2026-01-01T00:00:00Z", "action": "upload", "ip": "10.0.0.1", "port": 443}
    path = tmp_path / "ip_log.csv"
    disclosure_module._write_csv(
        path, disclosure_module.IP_LOG_COLUMNS, [{**row, "object_id": '=HYPERLINK("http://x")'}]
    )
    (written,) = _csv(path)
    assert written["object_id"] == '\'=HYPERLINK("http://x")' and written["port"] == "443"
