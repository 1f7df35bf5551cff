"""Verifying received packages: every kind of alteration is found and named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from refer_samples import analyse, simulate

from kaitiaki.refer.package import build_referrals
from kaitiaki.refer.signing import generate_key, public_path, verify_package
from kaitiaki.store import open_store


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("signed")
    store = open_store(f"sqlite:///{base / 'k.db'}")
    workspace = analyse(store, simulate(base / "sim"), base / "analysis")
    key = generate_key(base / "k.pem")
    batch = build_referrals(store, workspace, base / "out", key_path=key, built_by="t")
    return batch[0].folder


@pytest.fixture
def package(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / built.name
    shutil.copytree(built, copy)
    return copy


def test_intact_package_verifies(package: Path) -> None:
    result = verify_package(package)
    assert result.ok and not result.key_pinned and "integrity only" in result.trust_note


def test_a_changed_byte_names_the_file(package: Path) -> None:
    path = package / "events.csv"
    data = bytearray(path.read_bytes())
    data[-2] ^= 1
    path.write_bytes(bytes(data))
    result = verify_package(package)
    assert not result.ok and result.altered == ["events.csv"]
    assert result.signature_valid  # The manifest itself is intact; the file is not.


def test_missing_and_extra_files(package: Path) -> None:
    (package / "report.pdf").unlink()
    (package / "notes.txt").write_text("added")
    result = verify_package(package)
    assert result.missing == ["report.pdf"] and result.extra == ["notes.txt"]
    assert any("report.pdf" in p for p in result.problems())


def test_altered_manifest_fails_the_signature(package: Path) -> None:
    manifest = package / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"created"', '"created" ', 1))
    result = verify_package(package)
    assert not result.ok and not result.signature_valid
    assert any("manifest.json" in p for p in result.problems())


def test_pinned_keys(package: Path, built: Path, tmp_path: Path) -> None:
    own = built.parents[1] / "k.pem"
    assert verify_package(package, public_path(own)).ok
    other = generate_key(tmp_path / "other.pem")
    result = verify_package(package, public_path(other))
    assert not result.ok and result.key_pinned and not result.signature_valid
