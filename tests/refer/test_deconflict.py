"""Deconfliction pointers: no raw identifiers, hits only under the shared key, nothing revealed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cybertip_samples import (
    KEY,
    OTHER_KEY,
    PROVIDER_CLI,
    Analysed,
    account_rows,
    add_account_row,
    an_email_of_a_subject,
    analyse,
    flagged_truth_account,
    subject_accounts,
)

from kaitiaki.accounts import normalise_device_id, normalise_email, normalise_phone
from kaitiaki.refer.deconflict import (
    PointerError,
    PointerKeyMismatchError,
    check_pointers,
    export_pointers,
    key_id,
    load_key,
    read_pointers,
    referred_subjects,
)
from kaitiaki.store.models import Referral, ReferralSubject

Sides = tuple[Analysed, Analysed, str, str]


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Sides:
    """Two operations (agencies) that share one email, written differently, on one account each."""
    ours = analyse(tmp_path_factory.mktemp("ours"), seed=3, size=1500)
    subject, account, email = an_email_of_a_subject(ours)
    theirs_root = tmp_path_factory.mktemp("theirs")
    from kaitiaki.simulate.operation import simulate_operation

    simulate_operation(theirs_root / "sim", accounts=400, flagged_accounts=40, events=8000, seed=9)
    local, domain = email.split("@")
    # Their provider writes it in capitals, with a tag: one mailbox after normalisation.
    their_account = flagged_truth_account(theirs_root / "sim")
    add_account_row(theirs_root / "sim", their_account, f" {local.upper()}+x@{domain.upper()} ")
    theirs = analyse(theirs_root, seed=9, size=400)
    return ours, theirs, subject, account


def _export(a: Analysed, out: Path, key: bytes, contact: str) -> Path:
    export_pointers(a.store, a.workspace, out, key=key, contact_reference=contact, operation="op")
    return out


def test_pointer_file_holds_no_raw_identifier(sides: Sides, tmp_path: Path) -> None:
    ours = sides[0]
    path = _export(ours, tmp_path / "ours.json", KEY, "NZ DIA OCEANZ desk")
    text = path.read_text().lower()
    data = json.loads(text)
    assert data["format"] == "kaitiaki-pointers" and data["algorithm"] == "hmac-sha256"
    assert data["key_id"] == key_id(KEY) and data["pointers"] == sorted(set(data["pointers"]))
    accounts = [a for group in subject_accounts(ours.store).values() for a in group]
    checked = 0
    for row in account_rows(ours.workspace, accounts):
        for column in ("account_id", "username", "email", "phone", "device_id"):
            raw = row[column]
            if not raw:
                continue
            forms = {raw.strip(), normalise_email(raw), normalise_phone(raw)}
            forms |= {normalise_device_id(raw)}
            # Under 8 characters only junk ("0", "n/a"): it could sit inside a digest by chance.
            for form in {f for f in forms if f and len(f) >= 8}:
                assert str(form).lower() not in text, (column, form)
                checked += 1
    assert checked > 100
    assert len(data["pointers"]) >= len(accounts)


def test_shared_email_is_a_hit_under_the_same_key(sides: Sides, tmp_path: Path) -> None:
    ours, theirs, subject, account = sides
    their_file = _export(theirs, tmp_path / "theirs.json", KEY, "AFP ACCCE, ref 2024/117")
    hits = check_pointers(ours.store, ours.workspace, their_file, key=KEY)
    assert any(h.subject_id == subject and h.account_id == account for h in hits)
    assert {h.kind for h in hits} == {"email"}
    for hit in hits:
        # Only their contact reference and operation: everything else is ours.
        assert (hit.contact_reference, hit.operation) == ("AFP ACCCE, ref 2024/117", "op")
        assert hit.account_id in subject_accounts(ours.store)[hit.subject_id]
    # And the other way round: they find their account, with our contact.
    our_file = _export(ours, tmp_path / "ours.json", KEY, "NZ DIA OCEANZ desk")
    back = check_pointers(theirs.store, theirs.workspace, our_file, key=KEY)
    assert back and {h.contact_reference for h in back} == {"NZ DIA OCEANZ desk"}


def test_a_different_key_gives_no_hits(sides: Sides, tmp_path: Path) -> None:
    ours, theirs, _, _ = sides
    their_file = _export(theirs, tmp_path / "theirs.json", OTHER_KEY, "AFP")
    with pytest.raises(PointerKeyMismatchError, match="different keys"):
        check_pointers(ours.store, ours.workspace, their_file, key=KEY)
    # Even with the fingerprint forged to look like ours, their pointers match nothing.
    data = json.loads(their_file.read_text())
    data["key_id"] = key_id(KEY)
    their_file.write_text(json.dumps(data))
    assert check_pointers(ours.store, ours.workspace, their_file, key=KEY) == []


def test_bad_pointer_files_and_keys_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "format": "kaitiaki-pointers",
                "version": 1,
                "algorithm": "HMAC-SHA256",
                "pointers": ["alice@example.com"],
            }
        )
    )
    with pytest.raises(PointerError, match="64-digit"):
        read_pointers(bad)
    bad.write_text("not json")
    with pytest.raises(PointerError, match="not JSON"):
        read_pointers(bad)
    short = tmp_path / "key"
    short.write_bytes(b"short\n")
    with pytest.raises(PointerError, match="at least"):
        load_key(short)
    short.write_bytes(KEY + b"\n")
    assert load_key(short) == KEY


def test_referred_subjects_are_reported(sides: Sides) -> None:
    ours, _, subject, _ = sides
    with ours.store.session() as session:
        session.add(Referral(id="R-1", agency="NZ Police"))
        session.flush()
        session.add(ReferralSubject(subject_id=subject, referral_id="R-1"))
    assert referred_subjects(ours.store, [subject, "S-other"]) == {subject: "R-1"}


def test_cli_export_and_check(sides: Sides, tmp_path: Path) -> None:
    ours, theirs, subject, _ = sides
    key_file = tmp_path / "shared.key"
    key_file.write_bytes(KEY + b"\n")

    def run(
        a: Analysed, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                PROVIDER_CLI,
                "deconflict",
                *args,
                "--analysis",
                str(a.out),
                "--db",
                a.db,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    their_file = tmp_path / "theirs.json"
    done = run(
        theirs,
        "export",
        "-o",
        str(their_file),
        "--contact",
        "AFP ACCCE",
        "--key-file",
        str(key_file),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    import os

    env = {**os.environ, "KAITIAKI_POINTER_KEY": KEY.decode(), "COLUMNS": "200"}
    done = run(ours, "check", str(their_file), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert subject in done.stdout and "AFP ACCCE" in done.stdout and "email" in done.stdout
    env["KAITIAKI_POINTER_KEY"] = OTHER_KEY.decode()
    done = run(ours, "check", str(their_file), env=env)
    assert done.returncode == 1 and "different keys" in done.stderr
