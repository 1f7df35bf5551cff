"""Referral packages built from a simulated, analysed operation."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
from refer_samples import CLI, JPEG, PNG, analyse, simulate
from sqlalchemy import func, select
from typer.testing import Result

from in_process import kaitiaki
from kaitiaki.refer.package import build_referrals, schema
from kaitiaki.refer.signing import generate_key, verify_package
from kaitiaki.store import Store
from kaitiaki.store.models import Referral, ReferralEvent, ReferralSubject, Subject

FILES = {
    "package.json",
    "report.html",
    "report.pdf",
    "events.csv",
    "manifest.json",
    "manifest.sig",
    "public_key.pem",
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(tmp_path_factory.mktemp("sim"))


def test_packages_are_complete_valid_and_never_refer_twice(
    store: Store, sim: Path, tmp_path: Path
) -> None:
    workspace = analyse(store, sim, tmp_path / "analysis")
    key = generate_key(tmp_path / "keys" / "k.pem")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    out = tmp_path / "packages"
    batch = build_referrals(store, workspace, out, key_path=key, built_by="tester")
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(Subject))
        assert session.scalar(select(func.count()).select_from(ReferralSubject)) == total
        assert session.scalar(select(func.count()).select_from(Referral)) == len(batch)
        statuses = set(session.scalars(select(ReferralEvent.status)))
    assert statuses == {"draft"}
    assert sum(len(p.subjects) for p in batch) == total and len(batch) > 1
    validator = jsonschema.Draft202012Validator(schema())
    for package in batch:
        assert {p.name for p in package.folder.iterdir()} == FILES
        for path in package.folder.iterdir():
            data = path.read_bytes()
            assert JPEG not in data and PNG not in data, path
        doc = json.loads((package.folder / "package.json").read_text())
        validator.validate(doc)
        assert doc["schema_version"] == "1.1" and doc["package_id"] == package.referral_id
        assert doc["package_version"] == 1 and doc["supersedes"] is None
        assert doc["chain_of_custody"]["inputs"] and doc["chain_of_custody"]["hash_sets"]
        for subject in doc["subjects"]:
            for f in subject["flagged_files"]:
                assert f["sha256"] is None or len(f["sha256"]) == 64
        with (package.folder / "events.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert rows and all(r["utc"].endswith("Z") for r in rows)
        if package.country:
            assert all(r["local_time"] and r["local_zone"] for r in rows)
        else:
            assert all(not r["local_zone"] for r in rows)
        assert verify_package(package.folder).ok
    assert any(
        f["series"]
        for p in batch
        for s in json.loads((p.folder / "package.json").read_text())["subjects"]
        for f in s["flagged_files"]
    )

    again = build_referrals(store, workspace, tmp_path / "again", key_path=key, built_by="tester")
    assert len(again) == 0
    assert len(again.already_referred) == total


def test_one_subject_only(sqlite_store: Store, sim: Path, tmp_path: Path) -> None:
    workspace = analyse(sqlite_store, sim, tmp_path / "analysis")
    key = generate_key(tmp_path / "k.pem")
    with sqlite_store.session() as session:
        first = session.scalars(select(Subject.id).where(Subject.country == "US")).first()
    assert first
    batch = build_referrals(
        sqlite_store, workspace, tmp_path / "out", key_path=key, built_by="t", subject_ids=[first]
    )
    assert [p.subjects for p in batch] == [[first]]
    assert batch[0].referral_id.startswith("KAI-US-")
    rows = list(csv.DictReader((batch[0].folder / "events.csv").open()))
    assert {r["local_zone"] for r in rows} == {"America/New_York"}


def test_cli_keys_refer_verify(sim: Path, tmp_path: Path) -> None:
    from kaitiaki.store import open_store

    db = f"sqlite:///{tmp_path / 'k.db'}"
    analyse(open_store(db), sim, tmp_path / "analysis")
    env = {"KAITIAKI_KEYS": str(tmp_path / "keys"), "KAITIAKI_DB": db}

    def run(*args: str) -> Result:
        # In-process: a start-up each would cost seconds; the one call whose exit status is
        # its own (3, an unknown sender) runs as a process of its own below.
        return kaitiaki(*args, env=env)

    def process(*args: str) -> subprocess.CompletedProcess[str]:
        every = {**os.environ, **env}
        return subprocess.run([*CLI, *args], env=every, capture_output=True, text=True, check=False)

    made = run("keys", "generate")
    assert made.exit_code == 0, made.output
    assert "fingerprint" in run("keys", "show").stdout
    built = run("refer", "--out", str(tmp_path / "out"), "--analysis", str(tmp_path / "analysis"))
    assert built.exit_code == 0, built.output
    folder = sorted((tmp_path / "out").iterdir())[0]
    unknown = process("verify", str(folder))
    assert unknown.returncode == 3 and "unknown sender" in unknown.stdout
    public = str(tmp_path / "keys" / "kaitiaki-ed25519.pem.pub")
    assert run("keys", "trust", "add", "Our unit", public).exit_code == 0
    ok = run("verify", str(folder))
    assert ok.exit_code == 0 and "intact, signed by Our unit" in ok.stdout
    pinned = run(
        "verify", str(folder), "--key", str(tmp_path / "keys" / "kaitiaki-ed25519.pem.pub")
    )
    assert pinned.exit_code == 0 and "origin" in pinned.stdout
    (folder / "events.csv").write_bytes((folder / "events.csv").read_bytes() + b"x")
    bad = run("verify", str(folder))
    assert bad.exit_code == 1 and "events.csv" in bad.stdout
    rerun = run("refer", "--out", str(tmp_path / "out2"), "--analysis", str(tmp_path / "analysis"))
    assert rerun.exit_code == 0 and "already referred" in rerun.stdout
    assert "nothing new to refer: all " in rerun.stdout
    assert "subject(s) were referred already" in rerun.stdout
