"""The review queue: blurred greyscale thumbnails, audited reveals, the legal-basis rule,
decisions through the triage stage, reveal counts."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select, update
from web_helpers import photo

from kaitiaki.audit import verify_log
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, FileInstance, ReviewDecision
from kaitiaki.users import Role


def _laplacian_variance(image: Image.Image) -> float:
    """High-frequency energy: the variance of the 4-neighbour Laplacian at a common size."""
    a = np.asarray(image.convert("L").resize((256, 256)), dtype=np.float64)
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    return float(lap.var())


def _is_grey(image: Image.Image) -> bool:
    if image.mode == "L":
        return True
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return bool(
        np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 2
        and np.abs(rgb[..., 1] - rgb[..., 2]).max() <= 2
    )


def test_thumbnails_are_blurred_and_greyscale(login, scanned: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    client, _ = login(Role.REVIEWER)
    eid = scanned["evidence_id"]
    for name in ("astronaut", "chelsea"):  # on disk, and inside a zip
        response = client.get(f"/api/files/{scanned[name]}/thumbnail?evidence_id={eid}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"] == "no-store"
        thumb = Image.open(io.BytesIO(response.content))
        assert _is_grey(thumb)
        original = _laplacian_variance(photo(name))
        assert _laplacian_variance(thumb) < original / 20


def test_reveal_needs_a_reason_and_is_audited_first(
    login, store: Store, scanned: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.REVIEWER)
    sha, eid = scanned["coffee"], scanned["evidence_id"]
    headers = {"X-CSRF-Token": csrf}
    missing = client.post(f"/api/files/{sha}/reveal", json={"evidence_id": eid}, headers=headers)
    assert missing.status_code == 422
    with store.session() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")).all() == []
    body = {"evidence_id": eid, "reason": "categorise for the warrant application"}
    shown = client.post(f"/api/files/{sha}/reveal", json=body, headers=headers)
    assert shown.status_code == 200
    image = Image.open(io.BytesIO(shown.content))
    assert image.mode == "L"  # unblurred but still greyscale by default
    assert _laplacian_variance(image) > _laplacian_variance(photo("coffee")) / 4
    colour = client.post(f"/api/files/{sha}/reveal", json={**body, "colour": True}, headers=headers)
    assert not _is_grey(Image.open(io.BytesIO(colour.content)))
    with store.session() as session:
        reveals = session.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")).all()
    assert [(r.actor, r.target_id, r.reason, r.details["colour"]) for r in reveals] == [
        ("web:reviewer-user", sha, body["reason"], False),
        ("web:reviewer-user", sha, body["reason"], True),
    ]
    queue = client.get(f"/api/review/{eid}").json()
    assert queue["my_reveals"]["today"] == 2 and queue["my_reveals"]["this_week"] == 2
    assert verify_log(store).ok


def test_files_the_provider_never_viewed_need_a_legal_basis(
    login, store: Store, scanned: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.REVIEWER)
    sha, eid = scanned["astronaut"], scanned["evidence_id"]
    with store.session() as session:
        session.execute(update(FileInstance).values(viewed_by_provider=True))
        session.execute(
            update(FileInstance).where(FileInstance.sha256 == sha).values(viewed_by_provider=False)
        )
    headers = {"X-CSRF-Token": csrf}
    body = {"evidence_id": eid, "reason": "categorise"}
    assert client.get(f"/api/files/{sha}/thumbnail?evidence_id={eid}").status_code == 409
    refused = client.post(f"/api/files/{sha}/reveal", json=body, headers=headers)
    assert refused.status_code == 409 and "legal basis" in refused.json()["detail"]
    # A file the provider did view needs no stated basis.
    viewed = client.post(f"/api/files/{scanned['coffee']}/reveal", json=body, headers=headers)
    assert viewed.status_code == 200
    stated = {**body, "legal_basis": "search warrant 2024/117"}
    assert client.post(f"/api/files/{sha}/reveal", json=stated, headers=headers).status_code == 200
    with store.session() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last is not None and last.details["legal_basis"] == "search warrant 2024/117"
    # Once the evidence records a basis, the file opens without one being stated.
    admin, admin_csrf = login(Role.ADMIN)
    recorded = admin.post(
        f"/api/evidence/{eid}/legal-basis",
        json={"legal_basis": "provider terms of service, clause 9"},
        headers={"X-CSRF-Token": admin_csrf},
    )
    assert recorded.status_code == 200
    assert client.post(f"/api/files/{sha}/reveal", json=body, headers=headers).status_code == 200


def test_queue_and_a_decision(login, store: Store, scanned: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("kaitiaki.triage.review")
    client, csrf = login(Role.REVIEWER)
    eid = scanned["evidence_id"]
    queue = client.get(f"/api/review/{eid}").json()
    assert queue["total_new"] == 3 and queue["pending_groups"] == 3
    assert "ignorable" in [c["code"] for c in queue["categories"]]
    sha = queue["items"][0]["sha256"]
    decided = client.post(
        f"/api/review/{eid}/decisions",
        json={"sha256": sha, "category": "ignorable", "reason": "landscape"},
        headers={"X-CSRF-Token": csrf},
    )
    assert decided.status_code == 200 and decided.json()["decided"] == [sha]
    bad = client.post(
        f"/api/review/{eid}/decisions",
        json={"sha256": sha, "category": "Z9"},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422
    with store.session() as session:
        rows = session.scalars(select(ReviewDecision)).all()
    assert [(r.sha256, r.decided_by) for r in rows] == [(sha, "web:reviewer-user")]
    after = client.get(f"/api/review/{eid}").json()
    assert after["pending_groups"] == 2 and sha not in [i["sha256"] for i in after["items"]]
    page = client.get(f"/review/{eid}").text
    assert page.count('data-testid="review-item"') == 2
    assert 'data-testid="reveals-today"' in page


def test_auditor_sees_records_but_never_imagery(
    app: FastAPI, login, scanned: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    client, _ = login(Role.AUDITOR)
    sha, eid = scanned["coffee"], scanned["evidence_id"]
    assert client.get(f"/api/files/{sha}").status_code == 200
    assert client.get(f"/api/files/{sha}/thumbnail?evidence_id={eid}").status_code == 403
