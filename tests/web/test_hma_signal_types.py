"""HMA's signal-type routes (kaitiaki.web.hma.signal_types): index state from the real store
and the served PDQ indexes, and the per-type switch kaitiaki answers honestly about."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_helpers import bearer

from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
OTHER = "0" * 63 + "1"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
FIELDS = {"db_size", "index_size", "index_out_of_date", "newest_db_item", "index_built_to"}


@pytest.fixture
def curate(store: Store) -> dict[str, str]:
    return bearer(store, "hma-curator", "curate")


def test_the_routes_need_the_curate_scope(store: Store, client: TestClient) -> None:
    matcher = bearer(store, "hma-matcher", "match", "exchange")
    for method, path, body in (
        ("GET", "/c/signal_type/index", None),
        ("PUT", "/c/signal_type/pdq", {"enabled_ratio": 1.0}),
    ):
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401 and "message" in anonymous.json()
        assert client.request(method, path, json=body, headers=matcher).status_code == 403


def test_index_status_follows_the_store_and_the_served_index(
    store: Store, client: TestClient, curate: dict[str, str]
) -> None:
    empty = client.get("/c/signal_type/index", headers=curate)
    assert empty.status_code == 200
    assert set(empty.json()) >= {"pdq", "video_md5"}
    assert empty.json()["pdq"] == {
        "db_size": 0,
        "index_size": 0,
        "index_out_of_date": False,
        "newest_db_item": -1,
        "index_built_to": -1,
    }
    before = int(time.time()) - 1
    assert client.post("/c/banks", json={"name": "BANK"}, headers=curate).status_code == 201
    for body in ({"pdq": PDQ}, {"pdq": OTHER}, {"video_md5": MD5}):
        assert client.post("/c/bank/BANK/signal", json=body, headers=curate).status_code == 200
    pdq = client.get("/c/signal_type/index", params={"signal_type": "pdq"}, headers=curate)
    assert list(pdq.json()) == ["pdq"]
    state = pdq.json()["pdq"]
    assert set(state) == FIELDS
    assert state["db_size"] == 2 and state["newest_db_item"] >= before
    # The served index has caught up with the bank (it is read on demand): nothing is behind.
    assert state["index_size"] == 2 and state["index_out_of_date"] is False
    assert state["index_built_to"] == state["newest_db_item"]
    md5 = client.get("/c/signal_type/index", params={"signal_type": "video_md5"}, headers=curate)
    assert md5.json()["video_md5"]["db_size"] == md5.json()["video_md5"]["index_size"] == 1
    # A disabled bank is not matched, so it is in neither the store's count nor the index's.
    client.put("/c/bank/BANK", json={"enabled_ratio": 0}, headers=curate)
    off = client.get("/c/signal_type/index", params={"signal_type": "pdq"}, headers=curate)
    assert off.json()["pdq"]["db_size"] == off.json()["pdq"]["index_size"] == 0
    unknown = client.get("/c/signal_type/index", params={"signal_type": "nope"}, headers=curate)
    assert unknown.status_code == 400 and "No such signal type 'nope'" in unknown.text


def test_the_per_type_switch_takes_only_what_is_true(
    store: Store, client: TestClient, curate: dict[str, str]
) -> None:
    on = client.put("/c/signal_type/pdq", json={"enabled_ratio": 1.0}, headers=curate)
    assert on.status_code == 204 and on.content == b""  # HMA answers 204
    assert client.put("/c/signal_type/video_md5", json={"enabled_ratio": 1}).status_code == 401
    for body in ({"enabled_ratio": 0.5}, {"enabled_ratio": 0}):
        refused = client.put("/c/signal_type/pdq", json=body, headers=curate)
        assert refused.status_code == 400
        assert "PUT /c/bank/<name>" in refused.json()["message"]
    for body, message in (
        ({}, "enabled_ratio is required"),
        ({"enabled_ratio": "lots"}, "must be a number"),
        ([1], "enabled_ratio is required"),
    ):
        refused = client.put("/c/signal_type/pdq", json=body, headers=curate)
        assert refused.status_code == 400 and message in refused.text
    missing = client.put("/c/signal_type/nope", json={"enabled_ratio": 1.0}, headers=curate)
    assert missing.status_code == 404 and "No such signal type" in missing.text
    # Nothing changed, so nothing was audited.
    with store.session() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert actions == {"token.created"}


def test_an_index_behind_its_bank_is_out_of_date(
    store: Store, client: TestClient, curate: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaitiaki.web.hma import signal_types

    assert client.post("/c/banks", json={"name": "BANK"}, headers=curate).status_code == 201
    assert client.post("/c/bank/BANK/signal", json={"pdq": PDQ}, headers=curate).status_code == 200
    assert client.post("/c/banks", json={"name": "NEW"}, headers=curate).status_code == 201
    assert client.post("/c/bank/NEW/signal", json={"pdq": OTHER}, headers=curate).status_code == 200

    class Stale:
        """A served view as a process that has not caught up sees it: BANK at an older
        version, NEW not loaded yet."""

        def status(self) -> list[dict[str, object]]:
            bank = {"bank": "BANK", "enabled": True, "current": False, "size": 0}
            return [{**bank, "ready_at": 1_700_000_000}]

    monkeypatch.setattr(signal_types, "server_for", lambda _store: Stale())
    state = client.get("/c/signal_type/index", headers=curate).json()["pdq"]
    assert state["db_size"] == 2 and state["index_size"] == 0
    assert state["index_out_of_date"] is True
    assert state["index_built_to"] == 1_700_000_000 < state["newest_db_item"]
