"""A provider's file nobody there viewed opens only with a legal basis, over real HTTP; and
every reason a person gives must hold real words (the web answers 422).

The evidence is marked the way a provider export is, by ``scan`` with the provider's viewed
list (``kaitiaki.scan.provider_views``), not by editing the store.
"""

from __future__ import annotations

import hashlib
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web_helpers import jpeg, photo

from kaitiaki.audit import verify_log
from kaitiaki.scan.provider_views import check_list, mark_viewed
from kaitiaki.scan.runner import run_scan
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent
from kaitiaki.users import Role

WARRANT = "search warrant 2024/117, District Court"
REASON = "categorise for the referral"


@pytest.fixture
def provider_export(store: Store, tmp_path: Path) -> dict[str, Any]:
    """A provider export of three benign photos; the provider viewed coffee and chelsea."""
    root = tmp_path / "export"
    root.mkdir()
    (root / "astronaut.jpg").write_bytes(jpeg(photo("astronaut")))
    (root / "coffee.jpg").write_bytes(jpeg(photo("coffee")))
    with zipfile.ZipFile(root / "box.zip", "w") as archive:
        archive.writestr("inner/chelsea.jpg", jpeg(photo("chelsea")))
    coffee = hashlib.sha256((root / "coffee.jpg").read_bytes()).hexdigest()
    listing = tmp_path / "viewed.txt"
    listing.write_text(f"{coffee}\nbox.zip!/inner/chelsea.jpg\n")
    check_list(listing)
    result = run_scan(store, [root], "tip", workers=1, instances_viewed=False, actor="test:setup")
    marks = mark_viewed(store, result.evidence_id, listing, [root], actor="test:provider")
    assert (marks.viewed, marks.unmatched) == (2, 0)
    return {
        "evidence_id": result.evidence_id,
        "astronaut": hashlib.sha256((root / "astronaut.jpg").read_bytes()).hexdigest(),
        "coffee": coffee,
        "chelsea": hashlib.sha256(jpeg(photo("chelsea"))).hexdigest(),
    }


def _reveals(store: Store) -> list[AuditEvent]:
    with store.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == "reveal").order_by(AuditEvent.id)
            )
        )


def test_a_file_the_provider_never_viewed_needs_a_stated_legal_basis(
    login, store: Store, provider_export: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.REVIEWER)
    headers = {"X-CSRF-Token": csrf}
    eid, unseen = provider_export["evidence_id"], provider_export["astronaut"]
    url = f"/api/files/{unseen}/reveal"

    # The queue says which files need a basis, and the page asks for it.
    queue = client.get(f"/api/review/{eid}").json()
    needs = {i["sha256"]: i["needs_legal_basis"] for i in queue["items"]}
    assert needs == {
        unseen: True,
        provider_export["coffee"]: False,
        provider_export["chelsea"]: False,
    }
    page = client.get(f"/review/{eid}").text
    assert f'data-sha256="{unseen}"' in page and 'data-needs-legal-basis="true"' in page
    assert page.count('data-testid="needs-legal-basis"') == 1

    # Without a basis: refused, the thumbnail too, and nothing is revealed or audited.
    assert client.get(f"/api/files/{unseen}/thumbnail?evidence_id={eid}").status_code == 409
    refused = client.post(url, json={"evidence_id": eid, "reason": REASON}, headers=headers)
    assert refused.status_code == 409
    assert "provider never viewed" in refused.json()["detail"]
    assert "legal basis" in refused.json()["detail"]
    blank = {"evidence_id": eid, "reason": REASON, "legal_basis": "   "}
    assert client.post(url, json=blank, headers=headers).status_code == 409
    # A "basis" of invisible characters is no basis.
    hollow = {"evidence_id": eid, "reason": REASON, "legal_basis": "\u200b" * 20}
    answer = client.post(url, json=hollow, headers=headers)
    assert answer.status_code == 422 and "legal basis" in answer.json()["detail"]
    assert _reveals(store) == []

    # Files the provider viewed open with a reason alone.
    for name in ("coffee", "chelsea"):
        body = {"evidence_id": eid, "reason": REASON}
        seen = client.post(f"/api/files/{provider_export[name]}/reveal", json=body, headers=headers)
        assert seen.status_code == 200, seen.text

    # With a stated basis it opens, and the basis is in the audit entry.
    stated = {"evidence_id": eid, "reason": REASON, "legal_basis": f"  {WARRANT}\u200b "}
    shown = client.post(url, json=stated, headers=headers)
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    last = _reveals(store)[-1]
    assert (last.actor, last.target_id, last.reason) == ("web:reviewer-user", unseen, REASON)
    assert last.details is not None
    assert last.details["legal_basis"] == WARRANT
    assert last.details["legal_basis_source"] == "stated"
    assert last.details["viewed_by_provider_rule"] is True
    assert verify_log(store).ok


@pytest.mark.parametrize("reason", ["   ", "\u200b" * 20, "aaaa", "\u2060\u00ad\u200e" * 30])
def test_a_reveal_without_a_real_reason_is_refused(
    login, store: Store, provider_export: dict[str, Any], reason: str
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.REVIEWER)
    eid, seen = provider_export["evidence_id"], provider_export["coffee"]
    answer = client.post(
        f"/api/files/{seen}/reveal",
        json={"evidence_id": eid, "reason": reason},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 422
    assert "at least 10 letters or digits" in answer.json()["detail"]
    assert _reveals(store) == []
    ok = client.post(
        f"/api/files/{seen}/reveal",
        json={"evidence_id": eid, "reason": "checking the category before the referral"},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 200
    assert [r.reason for r in _reveals(store)] == ["checking the category before the referral"]


def test_an_evidence_legal_basis_must_hold_words(
    login, store: Store, provider_export: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    admin, csrf = login(Role.ADMIN)
    eid = provider_export["evidence_id"]
    url = f"/api/evidence/{eid}/legal-basis"
    hollow = admin.post(url, json={"legal_basis": "\u200b" * 20}, headers={"X-CSRF-Token": csrf})
    assert hollow.status_code == 422 and "legal basis" in hollow.json()["detail"]
    recorded = admin.post(url, json={"legal_basis": WARRANT}, headers={"X-CSRF-Token": csrf})
    assert recorded.status_code == 200 and recorded.json()["legal_basis"] == WARRANT
    # With the evidence's basis recorded, the unviewed file opens with a reason alone.
    client, reviewer_csrf = login(Role.REVIEWER)
    opened = client.post(
        f"/api/files/{provider_export['astronaut']}/reveal",
        json={"evidence_id": eid, "reason": REASON},
        headers={"X-CSRF-Token": reviewer_csrf},
    )
    assert opened.status_code == 200
    last = _reveals(store)[-1]
    assert last.details is not None and last.details["legal_basis"] == WARRANT
    assert last.details["legal_basis_source"] == "evidence"


def test_a_web_scan_takes_the_providers_viewed_list(login, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from kaitiaki.jobs import DONE, FAILED, JobRunner, get_job

    root = tmp_path / "export"
    root.mkdir()
    (root / "coffee.jpg").write_bytes(jpeg(photo("coffee")))
    (root / "chelsea.jpg").write_bytes(jpeg(photo("chelsea")))
    listing = tmp_path / "viewed.txt"
    client, csrf = login(Role.ADMIN)
    headers = {"X-CSRF-Token": csrf}
    body = {"evidence": "web-tip", "roots": [str(root)], "viewed_by_provider": str(listing)}

    listing.write_text("coffee.jpg\n" + "f" * 63 + "\n")
    bad = client.post("/api/scans", json=body, headers=headers)
    assert bad.status_code == 422 and "line 2: 63 hex digits" in bad.text
    outside = {**body, "viewed_by_provider": "/etc/passwd"}
    assert client.post("/api/scans", json=outside, headers=headers).status_code == 422

    listing.write_text("coffee.jpg\n")
    queued = client.post("/api/scans", json=body, headers=headers)
    assert queued.status_code == 202, queued.text
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while (job := get_job(store, queued.json()["id"])).status not in (DONE, FAILED):
            assert time.monotonic() < deadline, "the scan job did not finish"
            time.sleep(0.1)
    finally:
        assert runner.stop()
    assert job.status == DONE, job.error
    assert job.result["viewed_by_provider"]["viewed"] == 1
    eid = job.result["evidence_id"]
    queue = client.get(f"/api/review/{eid}").json()
    assert {i["needs_legal_basis"] for i in queue["items"]} == {True, False}
