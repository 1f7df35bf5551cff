"""``simulate_operation``: files that parse, and a ground truth that the files bear out."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import duckdb
import phonenumbers
import pyarrow.parquet as pq
import pytest
from operation_checks import (
    flagged_objects,
    naive_email,
    normal_device,
    normal_email,
    normal_phone,
    owners,
    read_rows,
    recount,
)
from typer.testing import CliRunner

from kaitiaki.geo import open_geolocator
from kaitiaki.simulate.operation import (
    SCALES,
    GroundTruth,
    OperationSample,
    load_ground_truth,
    simulate_operation,
)

SIZE = {"accounts": 900, "flagged_accounts": 90, "events": 24_000}
FILES = ("records.csv", "accounts.csv", "catalog.csv", "hashset.json", "ground_truth.json")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> OperationSample:
    out = tmp_path_factory.mktemp("operation")
    return simulate_operation(out, seed=11, formats=("csv", "jsonl", "parquet"), **SIZE)


@pytest.fixture(scope="module")
def truth(sample: OperationSample) -> GroundTruth:
    return load_ground_truth(sample.out_dir)


@pytest.fixture(scope="module")
def person_of(truth: GroundTruth) -> dict[str, str]:
    return {a: p.person_id for p in truth.people for a in p.account_ids}


def test_deterministic_by_seed(sample: OperationSample, tmp_path: Path) -> None:
    again = simulate_operation(tmp_path / "a", seed=11, formats=("csv",), **SIZE)
    for name in FILES[:-1]:
        assert (again.out_dir / name).read_bytes() == (sample.out_dir / name).read_bytes(), name
    first, second = (json.loads((s.out_dir / FILES[-1]).read_text()) for s in (sample, again))
    first["summary"].pop("formats"), second["summary"].pop("formats")
    assert first == second
    other = simulate_operation(tmp_path / "b", seed=12, formats=("csv",), **SIZE)
    assert (other.out_dir / "records.csv").read_bytes() != again.files["records.csv"].read_bytes()


def test_sizes_and_formats_agree(sample: OperationSample, truth: GroundTruth) -> None:
    assert sample.accounts == SIZE["accounts"] and sample.events == SIZE["events"]
    assert len(truth.flagged_accounts) == sample.flagged_accounts == SIZE["flagged_accounts"]
    assert sample.countries >= 50  # a long tail even at this size
    csv_rows = read_rows(sample.out_dir / "records.csv")
    assert (
        len(csv_rows)
        == sample.rows
        == sample.events + sample.duplicate_rows + sample.malformed_rows
    )
    parquet = pq.read_table(sample.out_dir / "records.parquet").to_pylist()
    jsonl = [json.loads(line) for line in (sample.out_dir / "records.jsonl").open(encoding="utf-8")]
    for row_csv, row_pq, row_js in zip(csv_rows, parquet, jsonl, strict=True):
        as_text = {k: "" if v is None else str(v) for k, v in row_pq.items()}
        assert row_csv == as_text and row_pq == row_js
    with duckdb.connect() as db:
        count = db.execute(
            "SELECT count(*) FROM read_parquet(?) WHERE account_id IS NULL",
            [str(sample.out_dir / "records.parquet")],
        ).fetchone()
    assert count is not None and count[0] == sum(
        1 for r in truth.malformed_rows.values() if r == "missing account_id"
    )


def test_noise_rows_are_where_the_truth_says(sample: OperationSample, truth: GroundTruth) -> None:
    flagged, _ = flagged_objects(sample.out_dir)
    counted = recount(sample.out_dir, flagged)
    assert counted.malformed == truth.malformed_rows
    assert set(counted.malformed.values()) == {
        "bad timestamp",
        "missing account_id",
        "unknown action",
        "invalid ip",
    }
    assert counted.duplicates == len(truth.duplicate_rows) > 0
    rows = read_rows(sample.out_dir / "records.csv")
    earlier = {tuple(r.values()) for r in rows[: min(truth.duplicate_rows) - 1]}
    assert tuple(rows[min(truth.duplicate_rows) - 1].values()) in earlier


def test_flagged_objects_and_accounts_recount_exactly(
    sample: OperationSample, truth: GroundTruth
) -> None:
    flagged, ignorable = flagged_objects(sample.out_dir)
    assert flagged == set(truth.flagged_objects)
    assert ignorable == set(truth.non_pertinent_objects)
    assert {o["match"] for o in truth.flagged_objects.values()} == {"exact", "pdq"}
    counted = recount(sample.out_dir, flagged)
    expected = {
        account: {k: v for k, v in vars(stats).items() if k not in ("account_id", "person_id")}
        for account, stats in truth.flagged_accounts.items()
    }
    assert counted.stats == expected
    # Non-pertinent objects are touched, by flagged and unflagged accounts alike.
    touched = {row[3] for row in counted.clean}
    assert ignorable & touched


def test_hash_set_is_vics_2(sample: OperationSample, truth: GroundTruth) -> None:
    document = json.loads((sample.out_dir / "hashset.json").read_text(encoding="utf-8"))
    assert document["@odata.context"].endswith("DataModels/2.0.xml/US/$metadata#Media")
    media = document["value"]
    assert all(m["MD5"] == m["MD5"].upper() and len(m["MD5"]) == 32 for m in media)
    assert {m["Category"] for m in media} == {0, 1, 2, 3}
    catalog = {r["object_id"]: r for r in read_rows(sample.out_dir / "catalog.csv")}
    by_md5 = {m["MD5"].lower(): m for m in media}
    for object_id, info in truth.flagged_objects.items():
        row = catalog[object_id]
        if info["match"] == "exact":
            assert by_md5[row["md5"]]["Category"] == info["category"]
        else:
            assert row["md5"] not in by_md5
            distances = [
                (int(m["PDQ"], 16) ^ int(row["pdq"], 16)).bit_count() for m in media if m.get("PDQ")
            ]
            assert 5 <= min(distances) <= 20


def test_people_sharing_identifiers(
    sample: OperationSample, truth: GroundTruth, person_of: dict[str, str]
) -> None:
    accounts = {r["account_id"]: r for r in read_rows(sample.out_dir / "accounts.csv")}
    assert set(accounts) == set(person_of)
    home = {p.person_id: p.home_country for p in truth.people}
    junk = {kind: {v.lower() for v in values} for kind, values in truth.junk_identifiers.items()}
    normalise = {
        "email": lambda v, a: normal_email(v),
        "phone": lambda v, a: normal_phone(v, home[person_of[a]]),
        "device_id": lambda v, a: normal_device(v),
    }
    kinds_linked = set()
    for person in truth.people:
        for a, b, via in person.links:
            kinds_linked.add(via)
            left = normalise[via](accounts[a][via], a)
            right = normalise[via](accounts[b][via], b)
            assert left is not None and left == right, (a, b, via)
    assert kinds_linked == {"email", "phone", "device_id"}
    multi = [p for p in truth.people if len(p.account_ids) > 1]
    assert multi and all(len(p.links) == len(p.account_ids) - 1 for p in multi)
    for kind, fn in normalise.items():
        values = {
            a: fn(r[kind], a)
            for a, r in accounts.items()
            if r[kind] and r[kind].lower() not in junk[kind]
        }
        assert None not in values.values(), kind  # every real phone is valid for its country
        shared = {v: who for v, who in owners(values, person_of).items() if len(who) > 1}
        assert shared == {}, (kind, list(shared.items())[:3])  # unrelated people share nothing
        junk_owners = owners(
            {a: r[kind] for a, r in accounts.items() if r[kind].lower() in junk[kind] and r[kind]},
            person_of,
        )
        assert any(len(who) > 1 for who in junk_owners.values()), kind  # junk is common


def test_phone_forms_and_dot_traps(
    sample: OperationSample, truth: GroundTruth, person_of: dict[str, str]
) -> None:
    accounts = {r["account_id"]: r for r in read_rows(sample.out_dir / "accounts.csv")}
    phones = [r["phone"] for r in accounts.values()]
    assert any(p.startswith("+") and " " in p for p in phones)  # international
    assert any(p.startswith("00") or p.startswith("011") for p in phones)
    assert any(p[:1] not in "+0" or "-" in p for p in phones if p and p not in ("unknown",))
    for person in truth.people:
        if person.phone_e164:
            number = phonenumbers.parse(person.phone_e164)
            assert phonenumbers.region_code_for_number(number) == person.home_country or (
                phonenumbers.is_valid_number_for_region(number, person.home_country)
            )
    naive = owners(
        {a: naive_email(r["email"]) for a, r in accounts.items() if "@" in r["email"]}, person_of
    )
    confused = {tuple(sorted(who)) for who in naive.values() if len(who) > 1}
    traps = {tuple(sorted({person_of[a], person_of[b]})) for a, b in truth.dot_traps}
    assert traps and confused == traps


def test_addresses_locate_to_home_or_travel(
    sample: OperationSample, truth: GroundTruth, person_of: dict[str, str]
) -> None:
    geo = open_geolocator()
    people = {p.person_id: p for p in truth.people}
    flagged, _ = flagged_objects(sample.out_dir)
    clean = recount(sample.out_dir, flagged).clean
    infos = geo.locate_many([row[4] for row in clean])
    users: dict[str, set[str]] = defaultdict(set)
    scopes: set[str] = set()
    seen_abroad: set[str] = set()
    for row, info in zip(clean, infos, strict=True):
        person = people[person_of[row[1]]]
        users[info.ip].add(person.person_id)
        scopes.add(info.scope)
        if person.vpn:
            assert info.hosting, (row, info)
        elif info.scope == "public" and not info.hosting:
            assert info.country in {person.home_country, *person.travel_countries}, (row, info)
            if info.country in person.travel_countries:
                seen_abroad.add(person.person_id)
    assert {"public", "cgnat", "private"} <= scopes
    travellers = {p.person_id for p in truth.people if p.travel_countries}
    assert travellers and seen_abroad == travellers
    assert any(p.vpn for p in truth.people if p.subject)
    shared = [ip for ip, who in users.items() if len(who) >= 3]
    assert any(geo.locate(ip).hosting for ip in shared)  # VPN exits
    assert any(
        geo.locate(ip).scope == "public" and not geo.locate(ip).hosting for ip in shared
    )  # carrier NAT
    assert any(geo.locate(row[4]).version == 6 for row in clean)


def test_timestamps_mix_offsets(sample: OperationSample, truth: GroundTruth) -> None:
    rows = read_rows(sample.out_dir / "records.csv")
    bad = set(truth.malformed_rows)
    suffixes = {r["timestamp"][19:] for n, r in enumerate(rows, 1) if n not in bad}
    assert "Z" in suffixes and len(suffixes) >= 8


def test_model_case_preset() -> None:
    scale = SCALES["model-case"]
    assert (scale.accounts, scale.flagged_accounts, scale.events) == (1_000_000, 90_000, 50_000_000)
    assert scale.formats == ("parquet",)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="events >= accounts"):
        simulate_operation(tmp_path, accounts=100, flagged_accounts=10, events=50)
    with pytest.raises(ValueError, match="flagged"):
        simulate_operation(tmp_path, accounts=100, flagged_accounts=101, events=500)
    with pytest.raises(ValueError, match="formats"):
        simulate_operation(tmp_path, accounts=10, flagged_accounts=1, events=50, formats=("xml",))


def test_cli(tmp_path: Path) -> None:
    from kaitiaki.cli import app as root

    root._register()
    out = tmp_path / "op"
    args = ["simulate", "operation", "--out", str(out), "--accounts", "200", "--flagged", "20"]
    result = CliRunner().invoke(root.app, [*args, "--events", "3000", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert "flagged accounts" in result.output and (out / "records.jsonl").exists()
    assert len(load_ground_truth(out).flagged_accounts) == 20
    bad = CliRunner().invoke(root.app, [*args, "--events", "10"])
    assert bad.exit_code == 1 and "events >= accounts" in bad.output
