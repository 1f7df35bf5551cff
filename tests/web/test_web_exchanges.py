"""The exchanges' status in the operation room (``/exchanges``, ``/api/exchanges``) and a
reviewer's feedback sent back through ``/api/exchanges/{name}/feedback``; the package's sample
exchange and one that records opinions instead of sending them: no network."""

from __future__ import annotations

import pytest
from exchange_fakes import opinions_registered
from fastapi import FastAPI
from sqlalchemy import select
from threatexchange.signal_type.pdq.signal import PdqSignal

from kaitiaki.exchanges import add_exchange, fetch
from kaitiaki.exchanges.manage import set_exchange_enabled
from kaitiaki.jobs import submit
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, ExchangeFeedback
from kaitiaki.users import Role

SECRET = "analyst-7:correct-horse-battery-staple"
SIGNAL = sorted(PdqSignal.get_examples())[0].lower()


# Credential keys in the test's folder (tests/web/conftest.py).
pytestmark = pytest.mark.usefixtures("credential_keys")


def _exchanges(store: Store) -> None:
    add_exchange(store, "sample", "sample", every=900, actor="test:setup")
    fetch(store, "sample", actor="test:setup")
    add_exchange(
        store,
        "ncmec",
        "ncmec",
        config={"environment": "NGO"},
        credentials=SECRET,
        actor="test:setup",
    )
    set_exchange_enabled(store, "ncmec", False, actor="test:setup")
    # A fetch queued and not yet run, as the scheduler leaves it.
    submit(store, "fetch_exchange", {"exchange": "ncmec"}, by="kaitiaki:scheduler")


def test_the_page_and_api_show_each_exchanges_status(app: FastAPI, store: Store, login) -> None:  # type: ignore[no-untyped-def]
    _exchanges(store)
    for role in (Role.ADMIN, Role.REVIEWER, Role.AUDITOR):
        client, _csrf = login(role)
        listed = {x["name"]: x for x in client.get("/api/exchanges").json()}
        assert set(listed) == {"sample", "ncmec"}
        sample, ncmec = listed["sample"], listed["ncmec"]
        assert (sample["last_fetch_status"], sample["schedule"]) == ("ok", "every 15m")
        assert sample["items"] > 0 and sample["next_fetch_at"] is not None
        assert sample["job"] is None
        assert (ncmec["enabled"], ncmec["schedule"], ncmec["next_fetch_at"]) == (
            False,
            "every 1h",
            None,
        )
        assert ncmec["job"]["status"] == "queued" and ncmec["has_credentials"] is True

        page = client.get("/exchanges")
        assert page.status_code == 200
        assert 'data-testid="nav-exchanges"' in page.text
        assert 'data-name="sample"' in page.text and "every 15m" in page.text
        assert f"job {ncmec['job']['id']}</a> queued" in page.text
        detail = client.get("/exchanges/ncmec")
        assert detail.status_code == 200 and "not scheduled" in detail.text
        for response in (page, detail, client.get("/api/exchanges/ncmec")):
            # Never the credentials, in any form.
            assert SECRET.split(":")[1] not in response.text and "analyst-7" not in response.text
    assert client.get("/api/exchanges/nothing").status_code == 404
    assert client.get("/exchanges/nothing").status_code == 404
    liaison, _csrf = login(Role.LIAISON)
    assert liaison.get("/exchanges").status_code == 403
    assert liaison.get("/api/exchanges").status_code == 403


def test_a_reviewer_sends_feedback_and_it_is_audited(app: FastAPI, store: Store, login) -> None:  # type: ignore[no-untyped-def]
    reviewer, csrf = login(Role.REVIEWER)
    headers = {"X-CSRF-Token": csrf}
    body = {"signal_type": "pdq", "signal": SIGNAL.upper(), "opinion": "negative"}
    with opinions_registered() as heard:
        add_exchange(store, "feed", "opinions", actor="test:setup")
        fetch(store, "feed", actor="test:setup")
        sent = reviewer.post("/api/exchanges/feed/feedback", json=body, headers=headers)
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "sent" and sent.json()["actor"] == "web:reviewer-user"
    assert heard == [("pdq", SIGNAL, "NEGATIVE_CLASS")]
    with store.session() as session:
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "exchange.feedback")
        ).all()
    assert actors == ["web:reviewer-user"]
    shown = reviewer.get("/exchanges/feed")
    assert 'data-testid="feedback-status">sent' in shown.text

    # The sample takes no feedback: a clear refusal, nothing recorded.
    add_exchange(store, "sample", "sample", actor="test:setup")
    fetch(store, "sample", actor="test:setup")
    refused = reviewer.post("/api/exchanges/sample/feedback", json=body, headers=headers)
    assert refused.status_code == 409
    assert "accepts no feedback" in refused.json()["detail"]
    for path, wrong, status in (
        ("/api/exchanges/nothing/feedback", body, 404),
        ("/api/exchanges/feed/feedback", {**body, "signal": "0" * 64}, 422),
        ("/api/exchanges/feed/feedback", {**body, "opinion": "maybe"}, 422),
    ):
        with opinions_registered():
            answer = reviewer.post(path, json=wrong, headers=headers)
        assert answer.status_code == status, answer.text
    with store.session() as session:
        assert len(session.scalars(select(ExchangeFeedback.id)).all()) == 1

    # Deciding on matches is a reviewer's act: an auditor only reads.
    auditor, auditor_csrf = login(Role.AUDITOR)
    denied = auditor.post(
        "/api/exchanges/feed/feedback", json=body, headers={"X-CSRF-Token": auditor_csrf}
    )
    assert denied.status_code == 403
