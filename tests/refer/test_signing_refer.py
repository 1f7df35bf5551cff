"""Verifying received packages: every kind of alteration is found and named."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from refer_samples import analyse, simulate
from sqlalchemy import select
from typer.testing import CliRunner, Result

from kaitiaki.refer.package import build_referrals
from kaitiaki.refer.signing import (
    MANIFEST,
    PUBLIC_KEY,
    fingerprint,
    generate_key,
    load_private,
    load_public,
    public_path,
    public_pem,
    verify_package,
    write_signed_manifest,
)
from kaitiaki.refer.trust import TrustError, add_trusted_key, list_trusted_keys, verify_received
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import AuditEvent


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


# --- The trust store: origin comes from a key the receiver holds, never from the package. ---


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from kaitiaki.cli import app as root

    root._register()
    return root.app


@pytest.fixture
def as_alice(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KAITIAKI_USER", "alice")
    return "cli:alice"


def run(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def sender_key(built: Path) -> Path:
    return public_path(built.parents[1] / "k.pem")


def forge(package: Path, attacker: Path) -> None:
    """What a forger does: change a file, re-sign with their own key, swap their key in."""
    events = package / "events.csv"
    events.write_text(events.read_text().replace(",", ",forged-", 1))
    doc = json.loads((package / MANIFEST).read_text())
    meta = {k: v for k, v in doc.items() if k not in ("files", "algorithm", "signature")}
    write_signed_manifest(package, load_private(attacker), meta)


def trusted_audit(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_type == "trusted_key")
            .order_by(AuditEvent.id)
        )
        return [(e.action, e.actor, e.target_id) for e in rows]


def test_a_forged_package_re_signed_by_another_key_is_an_unknown_sender(
    app: typer.Typer, store_url: str, package: Path, built: Path, tmp_path: Path, as_alice: str
) -> None:
    attacker = generate_key(tmp_path / "attacker.pem")
    forge(package, attacker)
    # What the old `verify` said: intact, exit 0 (the package vouched for itself).
    assert verify_package(package).ok
    added = run(app, "keys", "trust", "add", "NZ Police", str(sender_key(built)), "--db", store_url)
    assert added.exit_code == 0, added.output

    result = run(app, "verify", str(package), "--db", store_url)
    assert result.exit_code == 3, result.output
    attacker_fp = fingerprint(load_public(public_path(attacker)))
    assert f"unknown sender: key fingerprint {attacker_fp} is not in the trust store" in (
        result.output
    )
    assert "kaitiaki keys trust add" in result.output and "intact" not in result.output


def test_a_trusted_sender_verifies_and_is_named(
    app: typer.Typer, store_url: str, package: Path, built: Path, as_alice: str
) -> None:
    run(app, "keys", "trust", "add", "NZ Police", str(sender_key(built)), "--db", store_url)
    result = run(app, "verify", str(package), "--db", store_url)
    assert result.exit_code == 0, result.output
    expected = fingerprint(load_public(sender_key(built)))
    assert f"intact, signed by NZ Police ({expected})" in result.output


def test_an_empty_trust_store_knows_no_sender(
    app: typer.Typer, store_url: str, package: Path
) -> None:
    result = run(app, "verify", str(package), "--db", store_url)
    assert result.exit_code == 3 and "unknown sender" in result.output


def test_tampering_with_a_trusted_senders_package_keeps_its_own_code(
    app: typer.Typer, store_url: str, package: Path, built: Path, as_alice: str
) -> None:
    run(app, "keys", "trust", "add", "NZ Police", str(sender_key(built)), "--db", store_url)
    (package / "events.csv").write_text('account_id\n=HYPERLINK("http://x","y")\n')
    result = run(app, "verify", str(package), "--db", store_url)
    assert result.exit_code == 1 and "altered: events.csv" in result.output


def test_a_swapped_key_file_does_not_hide_a_trusted_signature(
    store: Store, package: Path, built: Path, tmp_path: Path
) -> None:
    # The key file only says which trusted key to try first; the signature decides.
    add_trusted_key(store, "NZ Police", sender_key(built), actor="cli:alice")
    other = generate_key(tmp_path / "other.pem")
    shutil.copy(public_path(other), package / PUBLIC_KEY)
    result = verify_received(store, package)
    assert result.ok and result.origin_proven and result.sender == "NZ Police"


def test_removing_a_key_makes_its_sender_unknown_and_both_changes_are_audited(
    app: typer.Typer, store: Store, store_url: str, package: Path, built: Path, as_alice: str
) -> None:
    run(app, "keys", "trust", "add", "NZ Police", str(sender_key(built)), "--db", store_url)
    listed = CliRunner().invoke(
        app, ["keys", "trust", "list", "--db", store_url], env={"COLUMNS": "200"}
    )
    assert "NZ Police" in listed.output and "cli:alice" in listed.output
    assert fingerprint(load_public(sender_key(built))) in listed.output
    removed = run(app, "keys", "trust", "remove", "NZ Police", "--db", store_url)
    assert removed.exit_code == 0, removed.output
    assert run(app, "verify", str(package), "--db", store_url).exit_code == 3
    assert list_trusted_keys(store) == []
    assert trusted_audit(store) == [
        ("trust.key_added", as_alice, "NZ Police"),
        ("trust.key_removed", as_alice, "NZ Police"),
    ]
    again = run(app, "keys", "trust", "remove", "NZ Police", "--db", store_url)
    assert again.exit_code == 1 and "no trusted key named 'NZ Police'" in again.output


def _pem_public(key: Any) -> bytes:
    return cast(
        bytes,
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


BAD_KEYS: dict[str, tuple[Callable[[], bytes], str]] = {
    "garbage": (lambda: b"hello, not a key\n", "not a PEM public key"),
    "empty": (lambda: b"", "not a PEM public key"),
    "truncated": (
        lambda: public_pem(Ed25519PrivateKey.generate().public_key())[:60],
        "not a PEM public key",
    ),
    "rsa": (lambda: _pem_public(rsa.generate_private_key(65537, 1024)), "not an Ed25519"),
    "ec": (lambda: _pem_public(ec.generate_private_key(ec.SECP256R1())), "not an Ed25519"),
    "x25519": (lambda: _pem_public(X25519PrivateKey.generate()), "not an Ed25519"),
    "private": (
        lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "a private key; give the public key",
    ),
    "huge": (lambda: b"-----BEGIN PUBLIC KEY-----\n" + b"A" * 200_000, "larger than"),
}


@pytest.mark.parametrize("kind", sorted(BAD_KEYS))
def test_a_file_that_is_not_an_ed25519_public_key_is_refused(
    app: typer.Typer, store: Store, store_url: str, tmp_path: Path, kind: str, as_alice: str
) -> None:
    make, reason = BAD_KEYS[kind]
    path = tmp_path / f"{kind}.pem"
    path.write_bytes(make())
    result = run(app, "keys", "trust", "add", "Partner", str(path), "--db", store_url)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert str(path) in message and reason in message and "Traceback" not in result.output
    assert list_trusted_keys(store) == [] and trusted_audit(store) == []


def test_a_missing_key_file_is_named(store: Store, tmp_path: Path) -> None:
    with pytest.raises(TrustError, match=r"nope\.pem: no such file"):
        add_trusted_key(store, "Partner", tmp_path / "nope.pem", actor="cli:alice")


def test_one_name_and_one_key_per_sender(store: Store, built: Path, tmp_path: Path) -> None:
    add_trusted_key(store, "NZ Police", sender_key(built), actor="cli:alice")
    other = public_path(generate_key(tmp_path / "other.pem"))
    with pytest.raises(TrustError, match="already trusted under the name 'NZ Police'"):
        add_trusted_key(store, "nz police", other, actor="cli:alice")
    with pytest.raises(TrustError, match="already trusted as 'NZ Police'"):
        add_trusted_key(store, "Someone else", sender_key(built), actor="cli:alice")
    with pytest.raises(TrustError, match="invisible"):
        add_trusted_key(store, "NZ\u200bPolice", other, actor="cli:alice")
    with pytest.raises(TrustError, match="acting user"):
        add_trusted_key(store, "Other", other, actor=" ")
    assert [k.name for k in list_trusted_keys(store)] == ["NZ Police"]
    assert trusted_audit(store) == [("trust.key_added", "cli:alice", "NZ Police")]


def test_a_pinned_key_still_decides_alone(
    app: typer.Typer, package: Path, built: Path, tmp_path: Path
) -> None:
    pinned = run(app, "verify", str(package), "--key", str(sender_key(built)))
    assert pinned.exit_code == 0 and "signed by the pinned key" in pinned.output
    other = public_path(generate_key(tmp_path / "other.pem"))
    wrong = run(app, "verify", str(package), "--key", str(other))
    assert wrong.exit_code == 1 and "bad signature" in wrong.output


def test_keys_generate_and_show_still_work(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "mine.pem"
    made = run(app, "keys", "generate", "--path", str(path))
    assert made.exit_code == 0 and path.is_file() and public_path(path).is_file()
    shown = run(app, "keys", "show", "--path", str(path))
    assert shown.exit_code == 0 and "BEGIN PUBLIC KEY" in shown.output
    assert fingerprint(load_public(public_path(path))) in " ".join(shown.output.split())


def test_the_trust_store_check_never_follows_a_link(
    store: Store, package: Path, built: Path, tmp_path: Path
) -> None:
    add_trusted_key(store, "NZ Police", sender_key(built), actor="cli:alice")
    real = tmp_path / "elsewhere.json"
    shutil.move(package / MANIFEST, real)
    (package / MANIFEST).symlink_to(real)
    result = verify_received(store, package)
    assert not result.ok and not result.origin_proven
