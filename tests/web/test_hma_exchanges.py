"""HMA's exchange routes (kaitiaki.web.hma.exchanges) as HMA 1.1's tests call them (each test
names the one it mirrors, from OpenMediaMatch/tests/test_api.py), over a real store, with the
threatexchange package's sample exchange: no network."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from web_helpers import bearer

from kaitiaki.exchanges import APIS, add_exchange, fetch
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent

SECRET = "analyst-7:correct-horse-battery-staple"
PASSWORD = SECRET.split(":")[1]


# Credential keys in the test's folder (tests/web/conftest.py).
pytestmark = pytest.mark.usefixtures("credential_keys")


@pytest.fixture
def auth(store: Store) -> dict[str, str]:
    return bearer(store, "hma-exchanger", "exchange")


def _no_secret(*responses: Response) -> None:
    for response in responses:
        assert PASSWORD not in response.text and SECRET.split(":")[0] not in response.text
        body = response.json()
        assert not isinstance(body, dict) or "credentials" not in body


def test_exchange_routes_need_the_exchange_scope(store: Store, client: TestClient) -> None:
    curate = bearer(store, "hma-curator", "curate")
    body = {"api": "sample", "bank": "X"}
    for method, path, json in (
        ("GET", "/c/exchanges", None),
        ("GET", "/c/exchanges/apis", None),
        ("POST", "/c/exchanges", body),
        ("GET", "/c/exchange/X", None),
        ("GET", "/c/exchange/X/status", None),
        ("PUT", "/c/exchange/X", {"enabled": False}),
        ("DELETE", "/c/exchange/X", None),
    ):
        anonymous = client.request(method, path, json=json)
        assert anonymous.status_code == 401, (method, path)
        assert "message" in anonymous.json(), (method, path)  # HMA's error shape
        assert client.request(method, path, json=json, headers=curate).status_code == 403
    # Nothing refused was stored or audited.
    with store.session() as session:
        changes = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action != "token.created")
        )
        assert list(changes) == []
    assert client.get("/c/exchanges", headers=bearer(store, "hma-other", "exchange")).json() == []


def test_exchange_create_list_show_update(
    store: Store, client: TestClient, auth: dict[str, str]
) -> None:
    # test_api.py::test_exchange_api_set_auth (its first step): the installed API names.
    apis = client.get("/c/exchanges/apis", headers=auth)
    assert apis.status_code == 200 and "sample" in apis.json()
    assert sorted(apis.json()) == sorted(APIS)
    # test_api.py::test_exchange_delete / test_exchange_get_fetch_status: HMA's create body.
    body = {"api": "sample", "bank": "FOO_EXCHANGE", "api_json": {}}
    created = client.post("/c/exchanges", json=body, headers=auth)
    assert (created.status_code, created.json()) == (201, {"message": "Created successfully"})
    again = client.post("/c/exchanges", json=body, headers=auth)
    assert again.status_code == 403 and "message" in again.json()
    # HMA's refusals: bank name rule, unknown API; kaitiaki's: a server file, missing secrets,
    # an unknown setting. None of them stores anything.
    refused = [
        {"api": "sample", "bank": "lower_case"},
        {"api": "nope", "bank": "NOPE"},
        {"api": "local_file", "bank": "FILE", "api_json": {"filename": "/etc/passwd"}},
        {"api": "ncmec", "bank": "NCMEC", "api_json": {"environment": "NGO"}},
        {"api": "sample", "bank": "ODD", "api_json": {"no_such_setting": 1}},
    ]
    for bad in refused:
        response = client.post("/c/exchanges", json=bad, headers=auth)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["message"]
    # Credentials are not an HMA create field: refused, not silently dropped.
    with_secret = {**body, "bank": "SECRET", "credentials": SECRET}
    assert client.post("/c/exchanges", json=with_secret, headers=auth).status_code == 422
    listed = client.get("/c/exchanges", headers=auth)
    assert (listed.status_code, listed.json()) == (200, ["FOO_EXCHANGE"])

    shown = client.get("/c/exchange/FOO_EXCHANGE", headers=auth)
    assert shown.status_code == 200
    assert shown.json() == {
        "name": "FOO_EXCHANGE",
        "api": "sample",
        "enabled": True,
        "bank": "FOO_EXCHANGE",
        "has_credentials": False,
    }
    # The exchange's bank is an HMA bank too (curation's /c/banks).
    banks = client.get("/c/banks", headers=bearer(store, "hma-curator", "curate")).json()
    assert [b["name"] for b in banks] == ["FOO_EXCHANGE"]
    assert client.get("/c/exchange/NOPE", headers=auth).status_code == 404

    # HMA's PUT /c/exchange/<name> {"enabled": ...}; a repeat changes (and audits) nothing.
    for _ in range(2):
        put = client.put("/c/exchange/FOO_EXCHANGE", json={"enabled": False}, headers=auth)
        assert (put.status_code, put.json()["enabled"]) == (200, False)
    assert client.put("/c/exchange/NOPE", json={"enabled": True}, headers=auth).status_code == 404
    with store.session() as session:
        audited = session.execute(
            select(AuditEvent.action, AuditEvent.actor).where(AuditEvent.action.like("exchange.%"))
        ).all()
    actor = "token:hma-exchanger"
    assert audited == [("exchange.added", actor), ("exchange.disabled", actor)]


def test_exchange_get_fetch_status(store: Store, client: TestClient, auth: dict[str, str]) -> None:
    # test_api.py::test_exchange_get_fetch_status, then kaitiaki's fields after a real fetch.
    assert client.get("/c/exchange/NONEXISTENT_EXCHANGE/status", headers=auth).status_code == 404
    body = {"api": "sample", "bank": "BAR_EXCHANGE", "api_json": {}}
    assert client.post("/c/exchanges", json=body, headers=auth).status_code == 201
    before = client.get("/c/exchange/BAR_EXCHANGE/status", headers=auth)
    assert before.status_code == 200
    assert before.json() == {
        "checkpoint_ts": None,
        "running_fetch_start_ts": None,
        "last_fetch_complete_ts": None,
        "last_fetch_succeeded": None,
        "up_to_date": False,
        "fetched_items": 0,
        "status": None,
        "last_fetch_items": None,
        "error": None,
        "enabled": True,
        # Added over HMA's API, as a network exchange would be: by hand (sample) until scheduled.
        "fetch_every_s": None,
        "next_fetch_ts": None,
    }

    report = fetch(store, "BAR_EXCHANGE", actor="test:fetcher")
    after = client.get("/c/exchange/BAR_EXCHANGE/status", headers=auth).json()
    assert after["last_fetch_succeeded"] is True and after["up_to_date"] is True
    assert after["status"] == "ok" and after["error"] is None
    assert after["running_fetch_start_ts"] is None
    assert isinstance(after["last_fetch_complete_ts"], int) and after["last_fetch_complete_ts"] > 0
    assert after["checkpoint_ts"] == after["last_fetch_complete_ts"]
    assert after["fetched_items"] == report.result.entries_added > 0
    assert after["last_fetch_items"] == report.updates


def test_exchange_delete(store: Store, client: TestClient, auth: dict[str, str]) -> None:
    # test_api.py::test_exchange_delete: deleting an exchange that does not exist is a 200.
    gone = client.delete("/c/exchange/TEST_EXCHANGE", headers=auth)
    assert (gone.status_code, gone.json()) == (200, {"message": "Exchange deleted"})
    body = {"api": "sample", "bank": "FOO_EXCHANGE", "api_json": {}}
    assert client.post("/c/exchanges", json=body, headers=auth).status_code == 201
    fetch(store, "FOO_EXCHANGE", actor="test:fetcher")
    deleted = client.delete("/c/exchange/FOO_EXCHANGE", headers=auth)
    assert (deleted.status_code, deleted.json()["message"]) == (200, "Exchange deleted")
    assert client.get("/c/exchanges", headers=auth).json() == []
    assert client.get("/c/exchange/FOO_EXCHANGE", headers=auth).status_code == 404
    with store.session() as session:
        removed = session.scalar(
            select(AuditEvent.actor).where(AuditEvent.action == "exchange.removed")
        )
    assert removed == "token:hma-exchanger"


def test_credentials_are_absent_from_every_response(
    store: Store, client: TestClient, auth: dict[str, str]
) -> None:
    # HMA sets credentials per API, never through these routes; one stored by the operator
    # (the CLI) is shown only as "has_credentials".
    add_exchange(
        store,
        "NCMEC_NGO",
        "ncmec",
        config={"environment": "NGO"},
        credentials=SECRET,
        actor="test:setup",
    )
    responses = [
        client.get("/c/exchanges", headers=auth),
        client.get("/c/exchange/NCMEC_NGO", headers=auth),
        client.get("/c/exchange/NCMEC_NGO/status", headers=auth),
        client.put("/c/exchange/NCMEC_NGO", json={"enabled": False}, headers=auth),
        client.put("/c/exchange/NCMEC_NGO", json={}, headers=auth),
        client.delete("/c/exchange/NCMEC_NGO", headers=auth),
    ]
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert responses[1].json()["has_credentials"] is True
    assert responses[4].json()["enabled"] is False
    _no_secret(*responses)
