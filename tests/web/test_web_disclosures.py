"""``/api/disclosures`` answers legal process as ``kaitiaki disclose`` does: a package signed with
the server's key under the server's work folder, the images only on the sender's own
confirmation, recorded and audited as the signed-in person; refused to roles that may not and
for analyses outside the work folder."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from browser_server import analyse
from fastapi import FastAPI
from sqlalchemy import select

from kaitiaki.refer.signing import default_key_path, generate_key, verify_package
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AuditEvent, Disclosure
from kaitiaki.users import Role


@pytest.fixture
def analysis(
    store: Store, simulated_operation: Path, tmp_path: Path, credential_keys: None
) -> Path:
    generate_key(default_key_path())
    return analyse(store, simulated_operation, tmp_path / "web" / "analysis")


def _account(store: Store) -> str:
    with store.session() as session:
        found = session.scalar(
            select(Account.account_id).where(Account.subject_id.is_not(None)).limit(1)
        )
    assert found is not None
    return str(found)


def test_a_package_for_an_account(app: FastAPI, login, store: Store, analysis: Path) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.INVESTIGATOR)
    account = _account(store)
    body = {"account_id": account, "request_ref": "SW/2026/117", "analysis": str(analysis)}
    answer = client.post("/api/disclosures", json=body, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 201, answer.text
    written = answer.json()
    assert written["request_ref"] == "SW/2026/117" and written["account_id"] == account
    assert written["events"] > 0 and written["files"] == 0 and not written["includes_files"]
    folder = app.state.settings.data_dir / "disclosures" / written["package_name"]
    assert folder.name == f"disclosure-SW_2026_117-{account}"
    assert verify_package(folder).ok
    with (folder / "ip_log.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == written["events"]
    with store.session() as session:
        (row,) = session.scalars(select(Disclosure)).all()
        entry = session.scalar(select(AuditEvent).where(AuditEvent.action == "disclosure.written"))
    me = "web:" + client.get("/api/auth/me").json()["name"]
    assert entry is not None and row.created_by == entry.actor == me
    listed = client.get("/api/disclosures").json()
    assert [d["id"] for d in listed] == [row.id]
    # The same request again would overwrite nothing: refused.
    again = client.post("/api/disclosures", json=body, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409


def test_images_need_the_senders_confirmation(login, store: Store, analysis: Path) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.ADMIN)
    body = {
        "account_id": _account(store),
        "request_ref": "W-9",
        "analysis": str(analysis),
        "include_files": True,
    }
    refused = client.post("/api/disclosures", json=body, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 422 and "confirmation" in refused.text
    confirmed = client.post(
        "/api/disclosures", json={**body, "confirm_files": True}, headers={"X-CSRF-Token": csrf}
    )
    assert confirmed.status_code == 201, confirmed.text
    # The confirmer is who sent it, whatever the body says.
    assert confirmed.json()["files_confirmed_by"].startswith("web:")


def test_who_may_and_what_is_refused(login, store: Store, analysis: Path) -> None:  # type: ignore[no-untyped-def]
    body = {"account_id": _account(store), "request_ref": "W-1", "analysis": str(analysis)}
    for role in (Role.REVIEWER, Role.LIAISON, Role.AUDITOR):
        client, csrf = login(role)
        sent = client.post("/api/disclosures", json=body, headers={"X-CSRF-Token": csrf})
        assert sent.status_code == 403, role
    auditor, _ = login(Role.AUDITOR)
    assert auditor.get("/api/disclosures").status_code == 200
    client, csrf = login(Role.INVESTIGATOR)
    outside = Path("/etc")  # neither the work folder nor an evidence folder of this server
    away = client.post(
        "/api/disclosures",
        json={**body, "analysis": str(outside)},
        headers={"X-CSRF-Token": csrf},
    )
    assert away.status_code == 422 and "work folder" in away.text
    nobody = client.post(
        "/api/disclosures",
        json={**body, "account_id": "nobody-at-all"},
        headers={"X-CSRF-Token": csrf},
    )
    assert nobody.status_code == 404 and "'nobody-at-all'" in nobody.text
    with store.session() as session:
        assert session.scalars(select(Disclosure)).all() == []
