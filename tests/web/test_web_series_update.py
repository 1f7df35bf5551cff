"""A signed series update uploaded over the web (``/api/series-updates``): verified against the
trust store and applied as ``kaitiaki series import`` does, by those who may change series;
refused to a liaison; an unknown signer refused naming the file as sent, with nothing stored;
past updates listed with the differences they left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kaitiaki.refer.envelope import SERIES_UPDATE_TYPE, seal
from kaitiaki.refer.signing import generate_key, load_private, public_path
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.store import Store
from kaitiaki.store.models import SeriesUpdateFile, Victim
from kaitiaki.triage.victims import add_victim
from kaitiaki.users import Role

UPDATE = {
    "$schema": "https://kaitiaki.example/schema/series-update-v1.json",
    "schema_version": "1.0",
    "issued_at": "2026-12-03T12:00:00Z",
    "issued_by": "web:au-vid",
    "agency": {"country": "AU", "name": "Australian Federal Police"},
    "series": [
        {
            "name": "S-1",
            "identified": True,
            "victims": [
                {"id": "V-1", "identified": True, "country": "AU", "agency": None, "age_band": None}
            ],
            "offenders": [],
        }
    ],
}


def _upload(client: TestClient, csrf: str, name: str, data: bytes) -> Any:
    return client.post(
        "/api/series-updates", files={"file": (name, data)}, headers={"X-CSRF-Token": csrf}
    )


def _files(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(SeriesUpdateFile)) or 0


def test_a_signed_series_update_is_applied_over_the_web(
    store: Store, login: Any, tmp_path: Path
) -> None:
    afp, rogue = (generate_key(tmp_path / "keys" / f"{n}.pem") for n in ("afp", "rogue"))
    add_trusted_key(store, "AFP", public_path(afp), actor="test:setup")
    add_victim(store, "V-1", identified=True, country="NZ", by="test:setup")
    signed = seal(UPDATE, SERIES_UPDATE_TYPE, load_private(afp))

    liaison, csrf = login(Role.LIAISON)
    assert _upload(liaison, csrf, "update.json", signed).status_code == 403
    reviewer, csrf = login(Role.REVIEWER)
    refused = _upload(
        reviewer, csrf, "../from-rogue.json", seal(UPDATE, SERIES_UPDATE_TYPE, load_private(rogue))
    )
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("from-rogue.json: not signed by any key in the trust store")
    assert str(tmp_path) not in refused.text
    assert _files(store) == 0

    response = _upload(reviewer, csrf, "update.json", signed)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["sender"], body["agency"], body["already_imported"]) == (
        "AFP",
        "AU:Australian Federal Police",
        False,
    )
    assert body["applied"] == [
        {"record": "series", "id": "S-1", "field": "created", "value": True},
        {"record": "victim", "id": "V-1", "field": "series", "value": "S-1"},
    ]
    assert body["differences"] == [
        {
            "record": "victim",
            "id": "V-1",
            "field": "country",
            "ours": "NZ",
            "theirs": "AU",
            "note": "",
        }
    ]
    with store.session() as session:
        victim = session.get(Victim, "V-1")
        assert victim is not None and victim.country == "NZ"
    assert _upload(reviewer, csrf, "update.json", signed).json()["already_imported"] is True
    listed = reviewer.get("/api/series-updates")
    assert listed.status_code == 200
    [past] = listed.json()
    assert (past["sha256"], past["applied"], past["imported_by"]) == (
        body["sha256"],
        2,
        "web:reviewer-user",
    )
    assert past["differences"] == body["differences"]
    # Nothing of the uploads stays on the server.
    assert not [p for p in (tmp_path / "web" / "uploads").rglob("*") if p.is_file()]
