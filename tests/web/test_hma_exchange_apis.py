"""HMA's per-API exchange routes (kaitiaki.web.hma.exchange_apis): credentials set per API as
HMA sets them, the form schema of an API, and exchanges that fall back on their API's
credentials to fetch and to send feedback; with fake clients, never the network."""

from __future__ import annotations

import json
import logging

import pytest
from exchange_fakes import FakeCredentials, authed_registered
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from threatexchange.signal_type.pdq.signal import PdqSignal
from web_helpers import bearer

from in_process import kaitiaki
from kaitiaki.exchanges import ExchangeError, add_exchange, fetch
from kaitiaki.exchanges.api_credentials import set_api_credentials
from kaitiaki.exchanges.feedback import give_feedback
from kaitiaki.exchanges.fetch import redact
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Exchange, ExchangeApiCredentials

USER = "analyst-7"
PASSWORD = "correct-horse-battery-staple"
NCMEC = {"user": USER, "password": PASSWORD}


# Credential keys in the test's folder (tests/web/conftest.py).
pytestmark = pytest.mark.usefixtures("credential_keys")


@pytest.fixture
def auth(store: Store) -> dict[str, str]:
    return bearer(store, "hma-exchanger", "exchange")


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and USER not in text


def _audit(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.target_type == "exchange_api")
            .order_by(AuditEvent.id)
        )
        return [(actor, action, json.dumps(details)) for actor, action, details in rows]


def test_the_routes_need_the_exchange_scope(store: Store, client: TestClient) -> None:
    curate = bearer(store, "hma-curator", "curate")
    body = {"credential_json": NCMEC}
    for method, path, json_body in (
        ("GET", "/c/exchanges/api/ncmec", None),
        ("POST", "/c/exchanges/api/ncmec", body),
        ("GET", "/c/exchanges/api/ncmec/schema", None),
    ):
        anonymous = client.request(method, path, json=json_body)
        assert anonymous.status_code == 401 and "message" in anonymous.json(), (method, path)
        assert client.request(method, path, json=json_body, headers=curate).status_code == 403
    with store.session() as session:
        assert session.scalar(select(ExchangeApiCredentials.api)) is None
    assert _audit(store) == []


def test_set_show_and_clear_an_apis_credentials(
    store: Store, client: TestClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown = client.get("/c/exchanges/api/ncmec", headers=auth)
    assert shown.json() == {"supports_authentification": True, "has_set_authentification": False}
    unchanged = client.post("/c/exchanges/api/ncmec", json={}, headers=auth)
    assert unchanged.json()["has_set_authentification"] is False
    put = client.post("/c/exchanges/api/ncmec", json={"credential_json": NCMEC}, headers=auth)
    assert put.status_code == 200, put.text
    assert put.json() == {"supports_authentification": True, "has_set_authentification": True}
    again = client.get("/c/exchanges/api/ncmec", headers=auth)
    assert again.json()["has_set_authentification"] is True
    with store.session() as session:
        sealed = session.scalar(select(ExchangeApiCredentials.credentials))
    assert sealed is not None
    _no_secret(sealed)  # encrypted at rest
    # Absent or null: nothing changes; empty: cleared.
    kept = client.post("/c/exchanges/api/ncmec", json={"credential_json": None}, headers=auth)
    assert kept.json()["has_set_authentification"] is True
    cleared = client.post("/c/exchanges/api/ncmec", json={"credential_json": {}}, headers=auth)
    assert cleared.json()["has_set_authentification"] is False
    assert client.get("/c/exchanges/api/sample", headers=auth).json() == {
        "supports_authentification": False,
        "has_set_authentification": False,
    }
    audited = _audit(store)
    assert [(a, b) for a, b, _ in audited] == [
        ("token:hma-exchanger", "exchange_api.credentials_set"),
        ("token:hma-exchanger", "exchange_api.credentials_cleared"),
    ]
    _no_secret(
        caplog.text, *(details for _, _, details in audited), shown.text, put.text, again.text
    )


def test_bad_requests_are_refused_with_a_clear_message(
    store: Store, client: TestClient, auth: dict[str, str]
) -> None:
    def post(api: str, content: str) -> Response:
        headers = {**auth, "Content-Type": "application/json"}
        return client.post(f"/c/exchanges/api/{api}", content=content, headers=headers)

    unknown = client.get("/c/exchanges/api/nope", headers=auth)
    assert unknown.status_code == 400 and "no such Exchange API 'nope'" in unknown.text
    for content, message in (
        ("[1]", "expects a json object"),
        (f'"{PASSWORD}"', "expects a json object"),
        ("{not json " + PASSWORD, "expects a json object"),
        (json.dumps({"credential_json": [PASSWORD]}), "must be a JSON object"),
        (json.dumps({"credential_json": {"user": USER}}), "need 'password'"),
        (json.dumps({"credential_json": {**NCMEC, "pin": PASSWORD}}), "'pin' is not a ncmec"),
        (json.dumps({"credential_json": {"user": USER, "password": 7}}), "must be a string"),
        (json.dumps({"credential_json": {"user": USER, "password": ""}}), "incomplete"),
    ):
        refused = post("ncmec", content)
        assert refused.status_code == 400, (content, refused.text)
        assert message in refused.json()["message"], refused.text
        _no_secret(refused.text)
    assert post("nope", json.dumps({"credential_json": NCMEC})).status_code == 400
    no_auth = post("sample", json.dumps({"credential_json": NCMEC}))
    assert no_auth.status_code == 400 and "sample takes no credentials" in no_auth.text
    # A URL the server would send them to is set on the server only.
    url = {"fetch_function_key": "k1234", "subscription_key": "k5678"}
    aimed = post("stop_ncii", json.dumps({"credential_json": {**url, "base_url_override": "x"}}))
    assert aimed.status_code == 400 and "set on the server" in aimed.text
    assert post("stop_ncii", json.dumps({"credential_json": url})).status_code == 200
    assert [action for _, action, _ in _audit(store)] == ["exchange_api.credentials_set"]


def test_schema_describes_settings_and_credentials(
    client: TestClient, auth: dict[str, str]
) -> None:
    ncmec = client.get("/c/exchanges/api/ncmec/schema", headers=auth).json()
    settings = {f["name"]: f for f in ncmec["config_schema"]["fields"]}
    assert set(settings) == {"environment", "only_esp_ids"}  # not name, api, enabled
    assert settings["environment"]["type"] == "enum" and settings["environment"]["required"]
    assert "https://hashsharing.ncmec.org/npo" in settings["environment"]["choices"]
    assert settings["only_esp_ids"] == {
        "name": "only_esp_ids",
        "type": "set_of_number",
        "required": False,
        "default": [],
        "help": settings["only_esp_ids"]["help"],
        "choices": None,
    }
    creds = [(f["name"], f["type"], f["required"]) for f in ncmec["credentials_schema"]["fields"]]
    assert creds == [("user", "string", True), ("password", "string", True)]
    stop = client.get("/c/exchanges/api/stop_ncii/schema", headers=auth).json()
    optional = stop["credentials_schema"]["fields"][2]
    assert (optional["name"], optional["required"]) == ("base_url_override", False)
    tx = client.get("/c/exchanges/api/fb_threatexchange/schema", headers=auth).json()
    assert tx["config_schema"]["fields"][0]["name"] == "privacy_group"
    assert tx["credentials_schema"]["fields"][0]["name"] == "api_token"
    sample = client.get("/c/exchanges/api/sample/schema", headers=auth).json()
    assert sample == {"config_schema": {"fields": []}, "credentials_schema": None}
    missing = client.get("/c/exchanges/api/nope/schema", headers=auth)
    assert missing.status_code == 404 and missing.json()["message"]


def test_an_hma_client_sets_ncmec_credentials_then_adds_an_exchange(
    store: Store, client: TestClient, auth: dict[str, str]
) -> None:
    body = {"bank": "NCMEC_NGO", "api": "ncmec", "api_json": {"environment": "NGO"}}
    refused = client.post("/c/exchanges", json=body, headers=auth)
    assert refused.status_code == 400 and "ncmec needs credentials" in refused.text
    client.post("/c/exchanges/api/ncmec", json={"credential_json": NCMEC}, headers=auth)
    created = client.post("/c/exchanges", json=body, headers=auth)
    assert created.status_code == 201, created.text
    shown = client.get("/c/exchange/NCMEC_NGO", headers=auth)
    assert shown.json()["has_credentials"] is False  # none of its own: NCMEC's are used
    _no_secret(created.text, shown.text)


def test_fetch_and_feedback_fall_back_on_the_apis_credentials(
    store: Store, client: TestClient, auth: dict[str, str]
) -> None:
    with authed_registered() as (built, heard):
        with pytest.raises(ExchangeError, match="authed needs credentials"):
            add_exchange(store, "feed", "authed", actor="test:setup")
        set_api_credentials(store, "authed", NCMEC, actor="test:setup")
        add_exchange(store, "feed", "authed", actor="test:setup")
        add_exchange(store, "own", "authed", credentials="own-user:own-pass", actor="test:setup")
        assert fetch(store, "feed", actor="test:setup").result.entries_added > 0
        signal = sorted(PdqSignal.get_examples())[0]
        sent = give_feedback(store, "feed", "pdq", signal, "positive", actor="test:reviewer")
        assert sent.status == "sent", sent.error
        fetch(store, "own", actor="test:setup")
        assert built == [
            FakeCredentials(USER, PASSWORD),
            FakeCredentials(USER, PASSWORD),
            FakeCredentials("own-user", "own-pass"),  # an exchange's own come first
        ]
        assert [opinion for _, _, opinion in heard] == ["POSITIVE_CLASS"]
        # Cleared: the exchange relying on them fails its next fetch, saying why.
        cleared = client.post("/c/exchanges/api/authed", json={"credential_json": {}}, headers=auth)
        assert cleared.json()["has_set_authentification"] is False
        with pytest.raises(ExchangeError, match="needs credentials; none are stored"):
            fetch(store, "feed", actor="test:setup")
    with store.session() as session:
        errors = list(session.scalars(select(Exchange.last_error)))
    _no_secret(*(e for e in errors if e))
    assert redact(f"failed for {USER} with {PASSWORD}", NCMEC) == "failed for *** with ***"


def test_the_command_line_sets_and_clears_an_apis_credentials(store: Store) -> None:
    done = kaitiaki(
        "exchange", "credentials", "stop_ncii", "--db", store.url,
        input=json.dumps(
            {"fetch_function_key": PASSWORD, "subscription_key": USER, "base_url_override": "x"}
        ),
        env={"KAITIAKI_USER": "op"},
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert "stop_ncii: credentials set" in done.stdout
    for given, message in (
        ("{" + PASSWORD, "standard input is not JSON"),
        ("[]", "non-empty JSON object"),
        (json.dumps({"user": USER}), "need 'password'"),
    ):
        bad = kaitiaki("exchange", "credentials", "ncmec", "--db", store.url, input=given)
        assert bad.exit_code == 1 and message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        _no_secret(bad.stdout, bad.stderr)
    unknown = kaitiaki("exchange", "credentials", "nope", "--clear", "--db", store.url)
    assert unknown.exit_code == 1 and "unknown exchange API 'nope'" in unknown.stderr
    gone = kaitiaki("exchange", "credentials", "stop_ncii", "--clear", "--db", store.url)
    assert gone.exit_code == 0 and "credentials cleared" in gone.stdout
    audited = _audit(store)
    assert [action for _, action, _ in audited] == [
        "exchange_api.credentials_set",
        "exchange_api.credentials_cleared",
    ]
    assert audited[0][0] == "cli:op" and audited[1][0].startswith("cli:")
    _no_secret(done.stdout, done.stderr, *(details for _, _, details in audited))
