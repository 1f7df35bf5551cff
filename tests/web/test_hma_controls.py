"""False-match controls through the HMA-compatible API and the review API: allowlist banks
(HMA's clients see no match; ``include_suppressed`` names the allowlist), HMA's per-content
switch (``PUT /c/bank/<name>/content/<id>``), and the release of a quarantined entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from web_helpers import bearer

from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, HashSetEntry
from kaitiaki.users import Role

# threatexchange's PdqSignal.get_examples()[0].
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
OTHER = "0f" * 32


def signal(client: TestClient, curate: dict[str, str], bank: str, pdq: str) -> int:
    added = client.post(f"/c/bank/{bank}/signal", json={"pdq": pdq}, headers=curate)
    assert added.status_code == 200, added.text
    return int(added.json()["id"])


def test_an_allowlist_bank_hides_matches_from_hma_clients(client: TestClient, store: Store) -> None:
    curate, match = bearer(store, "curator", "curate"), bearer(store, "matcher", "match")
    assert client.post("/c/banks", json={"name": "KNOWN"}, headers=curate).status_code == 201
    made = client.post("/c/banks", json={"name": "SAFE", "allowlist": True}, headers=curate)
    # HMA's exact shape when created and listed; kaitiaki's flag on the bank itself.
    assert (made.status_code, made.json()) == (201, {"name": "SAFE", "matching_enabled_ratio": 1.0})
    shown = client.get("/c/bank/SAFE", headers=curate).json()
    assert shown["allowlist"] is True
    assert "allowlist" not in client.get("/c/bank/KNOWN", headers=curate).json()
    known = signal(client, curate, "KNOWN", PDQ)
    plain = signal(client, curate, "KNOWN", OTHER)
    safe = signal(client, curate, "SAFE", PDQ)

    query = {"signal_type": "pdq", "signal": PDQ}
    assert client.get("/m/lookup", params=query, headers=match).json() == {}
    assert client.get("/m/lookup", params={**query, "banks": "KNOWN"}, headers=match).json() == {}
    assert client.get("/m/raw_lookup", params=query, headers=match).json() == {"matches": []}
    listed = client.get("/m/lookup", params={**query, "include_suppressed": "true"}, headers=match)
    assert listed.json() == {
        "KNOWN": [{"bank_content_id": known, "distance": "0", "suppressed_by": "SAFE"}],
        "SAFE": [{"bank_content_id": safe, "distance": "0", "allowlist": True}],
    }
    raw = client.get(
        "/m/raw_lookup", params={**query, "include_suppressed": "true"}, headers=match
    ).json()
    assert {m["bank_content_id"] for m in raw["matches"]} == {known, safe}
    # Content the allowlist does not hold still matches as in HMA.
    other = client.get("/m/lookup", params={"signal_type": "pdq", "signal": OTHER}, headers=match)
    assert other.json() == {"KNOWN": [{"bank_content_id": plain, "distance": "0"}]}

    # The allowlist switched off (PUT, kaitiaki's field) hides nothing any more.
    put = client.put("/c/bank/SAFE", json={"allowlist": False}, headers=curate)
    assert put.status_code == 200 and "allowlist" not in put.json()
    again = client.get("/m/lookup", params=query, headers=match).json()
    assert set(again) == {"KNOWN", "SAFE"}


def test_the_per_content_switch(client: TestClient, store: Store) -> None:
    curate, match = bearer(store, "curator", "curate"), bearer(store, "matcher", "match")
    assert client.post("/c/banks", json={"name": "BANK"}, headers=curate).status_code == 201
    content = signal(client, curate, "BANK", PDQ)
    path = f"/c/bank/BANK/content/{content}"
    query = {"signal_type": "pdq", "signal": PDQ}
    expected = {"BANK": [{"bank_content_id": content, "distance": "0"}]}
    assert client.get("/m/lookup", params=query, headers=match).json() == expected

    # HMA's test_bank_update_content: a time a year ahead, handed back as given.
    until = int((datetime.now(UTC) + timedelta(days=365)).timestamp())
    put = client.put(path, json={"disable_until_ts": until}, headers=curate)
    assert put.status_code == 200, put.text
    assert put.json()["disable_until_ts"] == until
    assert client.get(path, headers=curate).json()["disable_until_ts"] == until
    assert client.get("/m/lookup", params=query, headers=match).json() == {}
    # raw_lookup does not check the switch, as HMA's does not.
    assert client.get("/m/raw_lookup", params=query, headers=match).json() == {"matches": [content]}
    # 1: enabled again; 0: disabled with no end; a time gone by: enabled.
    assert client.put(path, json={"disable_until_ts": 1}, headers=curate).status_code == 200
    assert client.get(path, headers=curate).json()["disable_until_ts"] == 1
    assert client.get("/m/lookup", params=query, headers=match).json() == expected
    assert client.put(path, json={"disable_until_ts": "0"}, headers=curate).status_code == 200
    assert client.get(path, headers=curate).json()["disable_until_ts"] == 0
    assert client.get("/m/lookup", params=query, headers=match).json() == {}
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    assert client.put(path, json={"disable_until_ts": past}, headers=curate).status_code == 200
    assert client.get("/m/lookup", params=query, headers=match).json() == expected

    # HMA's test_bank_update_content_400, and kaitiaki's other refusals.
    for bad in (9999999999, -1, "soon", True, None):
        response = client.put(path, json={"disable_until_ts": bad}, headers=curate)
        assert response.status_code == 400, bad
    assert client.put(path, json={"note": "x" * 256}, headers=curate).status_code == 400
    missing = client.put(f"/c/bank/BANK/content/{content + 9}", json={}, headers=curate)
    assert missing.status_code == 404
    nobank = client.put(f"/c/bank/NONE/content/{content}", json={}, headers=curate)
    assert nobank.status_code == 404
    # The note, as HMA's PUT also takes it.
    noted = client.put(path, json={"note": "reviewed"}, headers=curate)
    assert noted.json()["note"] == "reviewed"

    with store.session() as session:
        actions = list(
            session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.actor == "token:curator",
                    AuditEvent.action == "hashset.entry_updated",
                )
            )
        )
    assert len(actions) == 5  # four switches and the note; refusals change nothing


def test_a_reviewer_lists_and_releases_a_quarantined_entry(
    client: TestClient, store: Store, login: Callable[..., tuple[TestClient, str]]
) -> None:
    curate, match = bearer(store, "curator", "curate"), bearer(store, "matcher", "match")
    assert client.post("/c/banks", json={"name": "BANK"}, headers=curate).status_code == 201
    content = signal(client, curate, "BANK", PDQ)
    with store.session() as session:
        entry = session.get(HashSetEntry, content)
        assert entry is not None
        entry.quarantined_at = datetime.now(UTC)
        entry.quarantine_reason = "flood guard: 500 matches"
    path = f"/c/bank/BANK/content/{content}"
    # Quarantined is HMA's "disabled" content.
    assert client.get(path, headers=curate).json()["disable_until_ts"] == 0
    query = {"signal_type": "pdq", "signal": PDQ}
    assert client.get("/m/lookup", params=query, headers=match).json() == {}

    reviewer, csrf = login(Role.REVIEWER)
    listed = reviewer.get("/api/quarantine")
    assert listed.status_code == 200
    (item,) = listed.json()
    assert (item["entry_id"], item["hash_set"], item["reason"], item["signals"]) == (
        content,
        "BANK",
        "flood guard: 500 matches",
        {"pdq": PDQ},
    )
    release = f"/api/quarantine/{content}/release"
    headers = {"X-CSRF-Token": csrf}
    short = reviewer.post(release, json={"reason": "fine"}, headers=headers)
    assert short.status_code == 422
    done = reviewer.post(release, json={"reason": "a real surge, checked"}, headers=headers)
    assert done.status_code == 200, done.text
    assert reviewer.get("/api/quarantine").json() == []
    assert client.get(path, headers=curate).json()["disable_until_ts"] == 1
    assert client.get("/m/lookup", params=query, headers=match).json() != {}
    again = reviewer.post(release, json={"reason": "a real surge, checked"}, headers=headers)
    assert again.status_code == 404
    with store.session() as session:
        actor = session.scalar(
            select(AuditEvent.actor).where(AuditEvent.action == "hashset.entry_released")
        )
    assert actor == "web:reviewer-user"
