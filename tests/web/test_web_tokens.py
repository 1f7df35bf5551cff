"""``/api/tokens``: an admin makes and revokes API tokens; the token is in the creation's answer
only; nobody else may even list them."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from kaitiaki.store import Store
from kaitiaki.users import Role
from kaitiaki.users.tokens import TokenPrincipal, authenticate_token


def test_admin_makes_lists_and_revokes_tokens(app: FastAPI, store: Store, login) -> None:  # type: ignore[no-untyped-def]
    admin, csrf = login(Role.ADMIN)
    headers = {"X-CSRF-Token": csrf}
    made = admin.post(
        "/api/tokens", json={"name": "HMA-Client", "scopes": ["match", "hash"]}, headers=headers
    )
    assert made.status_code == 201, made.text
    body = made.json()
    raw = body["token"]
    assert body["name"] == "hma-client" and body["scopes"] == ["hash", "match"]
    assert body["created_by"].startswith("web:") and body["revoked_at"] is None
    assert authenticate_token(store, raw) == TokenPrincipal(
        "hma-client", frozenset({"hash", "match"})
    )
    listed = admin.get("/api/tokens")
    assert listed.status_code == 200 and raw not in listed.text
    assert [t["name"] for t in listed.json()] == ["hma-client"]
    assert listed.json()[0]["last_used_at"] is not None
    for wrong, status in (
        ({"name": "other", "scopes": ["root"]}, 400),
        ({"name": "hma-client", "scopes": ["hash"]}, 400),
        ({"name": "other", "scopes": []}, 422),
    ):
        refused = admin.post("/api/tokens", json=wrong, headers=headers)
        assert refused.status_code == status, (wrong, refused.text)
    assert admin.post("/api/tokens/ghost/revoke", headers=headers).status_code == 404
    revoked = admin.post("/api/tokens/hma-client/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_by"].startswith("web:")
    assert "token" not in revoked.json()
    assert authenticate_token(store, raw) is None
    again = admin.post("/api/tokens/hma-client/revoke", headers=headers)
    assert again.status_code == 400 and "already revoked" in again.text


def test_only_an_admin_reaches_tokens(app: FastAPI, login) -> None:  # type: ignore[no-untyped-def]
    investigator, csrf = login(Role.INVESTIGATOR)
    assert investigator.get("/api/tokens").status_code == 403
    body = {"name": "mine", "scopes": ["curate"]}
    made = investigator.post("/api/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 403
    assert TestClient(app).get("/api/tokens").status_code == 401
