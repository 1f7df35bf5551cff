"""The fast path of ``GET /m/raw_lookup`` and ``GET /m/lookup`` (``web/hma/fast_lookup.py``)
gives exactly the route's answer and headers, and nothing the route would refuse."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_hma_api import PDQ, bearer, flip, make_bank

from kaitiaki.store import Store
from kaitiaki.users import Role
from kaitiaki.web.hma.fast_lookup import FastLookup
from kaitiaki.web.security import HEADERS


class Counted:
    """Counts the requests the fast path answered itself (not handed to the route)."""

    def __init__(self) -> None:
        self.answered = 0
        self._real = FastLookup._answer

    async def __call__(self, this: FastLookup, scope: Any, *, raw: bool) -> Any:
        answer = await self._real(this, scope, raw=raw)
        self.answered += answer is not None
        return answer


def _both(client: TestClient, app: FastAPI, path: str, params: dict[str, str], headers: Any) -> Any:
    """The route's answer (token memory emptied: the fast path passes), then the fast one."""
    app.state.tokens.clear()
    counted = Counted()
    with mock.patch.object(FastLookup, "_answer", _bound(counted)):
        slow = client.get(path, params=params, headers=headers)
        assert counted.answered == 0
        fast = client.get(path, params=params, headers=headers)
        assert counted.answered == 1, f"the fast path did not answer {path} {params}"
    assert (fast.status_code, fast.json()) == (slow.status_code, slow.json())
    # Every security header, the same (the fast path answers outside SecurityHeaders).
    for name in [*HEADERS, "cache-control", "pragma", "strict-transport-security"]:
        assert fast.headers.get(name) == slow.headers.get(name), name
    assert slow.headers["x-frame-options"] == "DENY"
    assert fast.headers["content-type"] == "application/json"
    return fast.json()


def _bound(counted: Counted) -> Any:
    async def answer(this: FastLookup, scope: Any, *, raw: bool) -> Any:
        return await counted(this, scope, raw=raw)

    return answer


def test_the_fast_answers_are_the_routes(client: TestClient, app: FastAPI, store: Store) -> None:
    curate = bearer(store, "curator", "curate")
    match = bearer(store, "matcher", "match")
    near, far, upper = flip(PDQ, 5), flip(PDQ, 40), PDQ.upper()
    first = make_bank(client, curate, "FIRST", PDQ, near)
    make_bank(client, curate, "SECOND", flip(PDQ, 3))
    make_bank(client, curate, "OFF", PDQ)
    assert client.put("/c/bank/OFF", json={"enabled": False}, headers=curate).status_code == 200
    make_bank(client, curate, "ALLOWED", far)
    cases: list[tuple[str, dict[str, str]]] = [
        ("/m/raw_lookup", {"signal_type": "pdq", "signal": PDQ}),
        (
            "/m/raw_lookup",
            {"signal_type": "pdq", "signal": upper, "include_distance": "true"},
        ),
        ("/m/raw_lookup", {"signal_type": "pdq", "signal": far, "include_distance": "1"}),
        ("/m/raw_lookup", {"signal_type": "pdq", "signal": PDQ, "banks": "SECOND,NOPE"}),
        ("/m/lookup", {"signal_type": "pdq", "signal": PDQ}),
        ("/m/lookup", {"signal_type": "pdq", "signal": PDQ, "bypass_coinflip": "true"}),
        ("/m/lookup", {"signal_type": "pdq", "signal": PDQ, "banks": "FIRST", "seed": "x"}),
        ("/m/lookup", {"signal_type": "pdq", "signal": "0" * 64}),
    ]
    # The first lookup of a process loads the index kernels (seconds on a cold machine): longer
    # than the token memory's few seconds, so the route's token would be forgotten before the
    # fast call that should find it. Loaded once here, each pair below takes milliseconds.
    assert client.get(cases[0][0], params=cases[0][1], headers=match).status_code == 200
    answers = [_both(client, app, path, params, match) for path, params in cases]
    # raw_lookup asks every bank, switched off or not: FIRST's two, SECOND's and OFF's.
    assert len(answers[0]["matches"]) == 4 and set(first) <= set(answers[0]["matches"])
    assert [m["distance"] for m in answers[1]["matches"]] == ["0", "0", "3", "5"]
    assert answers[2]["matches"][0]["distance"] == "0"  # the far hash is ALLOWED's own
    assert len(answers[3]["matches"]) == 1
    assert set(answers[4]) == {"FIRST", "SECOND"}  # the switched-off bank is left out
    assert "OFF" in answers[5]  # unless the coin flip is bypassed
    assert list(answers[6]) == ["FIRST"]
    assert answers[7] == {}

    # An allowlist: its hit cancels the others, on both paths, and include_suppressed shows it.
    allow = {"allowlist": True}
    assert client.put("/c/bank/ALLOWED", json=allow, headers=curate).status_code == 200
    make_bank(client, curate, "WHITE", near)
    client.put("/c/bank/WHITE", json=allow, headers=curate)
    suppressed = _both(
        client,
        app,
        "/m/raw_lookup",
        {"signal_type": "pdq", "signal": near, "include_suppressed": "true"},
        match,
    )
    assert any(m.get("allowlist") for m in suppressed["matches"])
    plain = _both(client, app, "/m/lookup", {"signal_type": "pdq", "signal": near}, match)
    assert plain == {}


def test_what_the_route_refuses_the_fast_path_refuses(  # type: ignore[no-untyped-def]
    client: TestClient, app: FastAPI, store: Store, login
) -> None:
    curate = bearer(store, "curator", "curate")
    match = bearer(store, "matcher", "match")
    hasher = bearer(store, "hasher", "hash")
    make_bank(client, curate, "BANK", PDQ)
    query = {"signal_type": "pdq", "signal": PDQ}
    # Known to the fast path's token memory first, as a busy client's token would be.
    assert client.get("/m/raw_lookup", params=query, headers=match).status_code == 200
    assert client.get("/m/raw_lookup", params=query, headers=hasher).status_code == 403
    assert client.get("/m/raw_lookup", params=query, headers=hasher).status_code == 403
    assert client.get("/m/raw_lookup", params=query).status_code == 401
    bad = {"signal_type": "pdq", "signal": "nothex"}
    refused = client.get("/m/raw_lookup", params=bad, headers=match)
    assert refused.status_code == 400 and "not a pdq hash" in refused.text
    assert client.get("/m/lookup", params={"signal": PDQ}, headers=match).status_code == 400
    long = {"signal_type": "pdq", "signal": PDQ, "seed": "s" * 500}
    assert client.get("/m/lookup", params=long, headers=match).status_code == 422

    # A token revoked through the web application is forgotten at once.
    admin, csrf = login(Role.ADMIN)
    revoked = admin.post("/api/tokens/matcher/revoke", headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 200
    assert client.get("/m/raw_lookup", params=query, headers=match).status_code == 401


def test_an_unexpected_error_in_the_fast_path_is_answered_by_the_route(
    client: TestClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    curate = bearer(store, "curator", "curate")
    match = bearer(store, "matcher", "match")
    make_bank(client, curate, "BANK", PDQ)
    query = {"signal_type": "pdq", "signal": PDQ}
    assert client.get("/m/raw_lookup", params=query, headers=match).status_code == 200
    broken = mock.patch(
        "kaitiaki.web.hma.fast_lookup.pdq_candidates", side_effect=RuntimeError("index gone")
    )
    with broken as patched:
        answer = client.get("/m/raw_lookup", params=query, headers=match)
    assert patched.called  # the fast path tried, failed, and handed the request on
    assert answer.status_code == 200 and len(answer.json()["matches"]) == 1
    assert answer.headers["x-frame-options"] == "DENY"
    assert "fast lookup failed" in caplog.text
