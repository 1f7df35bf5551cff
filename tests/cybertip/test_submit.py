"""Sending a CyberTipline report: the whole flow from real evidence to a finished report at the
stand-in (real HTTP), the MD5 check, NCMEC's refusals kept, retries, retraction, and the
credentials kept out of every record. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from submit_world import PASSWORD, REPORT, USER, Evidence, client, draft, scan_evidence, served

from kaitiaki.cybertip.client import CyberTiplineResponseError
from kaitiaki.cybertip.credentials import (
    API_NAME,
    load_connection,
    parse_credentials,
    set_credentials,
)
from kaitiaki.cybertip.errors import CyberTipConflictError, CyberTipError
from kaitiaki.cybertip.reports import list_reports
from kaitiaki.cybertip.submit import retract_report, status_check, submit_report
from kaitiaki.cybertip.tracking import Upload, evidence_upload, report_view
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, CyberTipReport, ExchangeApiCredentials

ACTOR = "alice"


@pytest.fixture
def evidence(store: Store, tmp_path: Path) -> list[Evidence]:
    return scan_evidence(store, tmp_path)


def _actions(store: Store) -> list[str]:
    with store.session() as session:
        query = select(AuditEvent.action).where(AuditEvent.action.like("cybertip.%"))
        return list(session.scalars(query.order_by(AuditEvent.id)))


def test_a_report_and_its_files_reach_ncmec_once(store: Store, evidence: list[Evidence]) -> None:
    from kaitiaki.cybertip.standin import _schema

    report = draft(store, evidence, without_instance=1)
    with served() as (standin, url), client(url) as api:
        view = submit_report(store, report, actor=ACTOR, client=api)
        again = submit_report(store, report, actor=ACTOR, client=api)
    assert view.state == "finished" and view.ncmec_report_id in standin.reports
    received = standin.reports[view.ncmec_report_id]
    assert received.state == "finished" and received.document == REPORT.encode()
    from lxml import etree

    assert _schema().validate(etree.fromstring(received.document))
    # Each file once, as the evidence holds it (an archive member too); details for each.
    md5s = sorted(standin.files[f].md5 for f in received.file_ids)
    assert md5s == sorted(e.md5 for e in evidence)
    assert all(standin.files[f].details is not None for f in received.file_ids)
    states = {f.object_id: f.state for f in view.files}
    assert states == {"obj-0": "detailed", "obj-1": "detailed", "obj-2": "detailed"} | {
        "held-elsewhere-0": "skipped"
    }
    assert {f.received_md5 for f in view.files if f.received_md5} == {e.md5 for e in evidence}
    # The second call sends nothing and says so.
    assert again.state == "finished" and "nothing sent" in again.note
    assert standin.count("submit") == standin.count("finish") == 1
    assert standin.count("upload") == 3 and standin.count("fileinfo") == 3
    assert _actions(store) == [
        "cybertip.submitted",
        *["cybertip.file_uploaded"] * 3,
        *["cybertip.file_detailed"] * 3,
        "cybertip.files_sent",
        "cybertip.finished",
    ]
    assert [v.id for v in list_reports(store, state="finished", subject_id="S-1")] == [report]


def test_files_are_not_sent_unless_the_provider_chose_to(
    store: Store, evidence: list[Evidence]
) -> None:
    report = draft(store, evidence, include_files=False)
    with served() as (standin, url), client(url) as api:
        view = submit_report(store, report, actor=ACTOR, client=api)
    assert view.state == "finished" and standin.files == {}
    assert {f.state for f in view.files} == {"skipped"}


def test_an_md5_mismatch_fails_and_retracts(store: Store, evidence: list[Evidence]) -> None:
    def altered(path: str, sha256: str) -> Upload:
        real = evidence_upload(path, sha256)

        def chunks() -> Iterator[bytes]:
            data = b"".join(real.chunks())
            yield bytes([data[0] ^ 1]) + data[1:]

        return Upload(real.name, real.size, chunks)

    report = draft(store, evidence[:1])
    with served() as (standin, url), client(url) as api:
        view = submit_report(store, report, actor=ACTOR, client=api, read_file=altered)
    assert view.state == "failed" and "MD5" in (view.error_message or "")
    assert view.error_code is None
    (opened,) = standin.reports.values()
    assert opened.state == "retracted" and standin.count("finish", None) == 0
    assert _actions(store)[-1] == "cybertip.failed"


def test_ncmec_s_refusal_is_kept(store: Store, evidence: list[Evidence]) -> None:
    report = draft(store, evidence[:1])
    with served() as (standin, url), client(url) as api:
        standin.fail_next("submit", 4100)
        view = submit_report(store, report, actor=ACTOR, client=api)
        with pytest.raises(CyberTipConflictError, match="is failed"):
            submit_report(store, report, actor=ACTOR, client=api)
    assert (view.state, view.error_code, view.error_message) == (
        "failed",
        4100,
        "Validation failed",
    )
    assert standin.reports == {}


def test_a_refusal_after_opening_fails_and_retracts(store: Store, evidence: list[Evidence]) -> None:
    report = draft(store, evidence[:1])
    with served() as (standin, url), client(url) as api:
        standin.fail_next("fileinfo", 4100)
        view = submit_report(store, report, actor=ACTOR, client=api)
    assert (view.state, view.error_code) == ("failed", 4100)
    assert standin.reports[view.ncmec_report_id].state == "retracted"  # type: ignore[index]


def test_a_server_error_leaves_a_state_to_retry(store: Store, evidence: list[Evidence]) -> None:
    report = draft(store, evidence[:2])
    with served() as (standin, url), client(url) as api:
        for call in ("submit", "upload", "fileinfo", "finish"):
            standin.fail_next(call, 1000)
            with pytest.raises(CyberTiplineResponseError) as transient:
                submit_report(store, report, actor=ACTOR, client=api)
            assert transient.value.code == 1000
            assert report_view(store, report).state != "failed"
        view = submit_report(store, report, actor=ACTOR, client=api)
    assert view.state == "finished" and view.abandoned_report_ids == ()
    assert standin.count("submit") == standin.count("finish") == 1
    assert standin.count("upload") == 2 and len(standin.reports) == 1


def test_an_invalid_draft_is_refused_before_anything_is_sent(
    store: Store, evidence: list[Evidence]
) -> None:
    report = draft(store, evidence[:1])
    with store.session() as session:
        row = session.get(CyberTipReport, report)
        assert row is not None
        row.document = REPORT.replace("jsmith@example.com", "jsmith@example.org")
    with (
        served() as (standin, url),
        client(url) as api,
        pytest.raises(CyberTipError, match="not the one reviewed"),
    ):
        submit_report(store, report, actor=ACTOR, client=api)
    assert report_view(store, report).state == "draft" and standin.calls == []


def test_missing_evidence_is_found_before_ncmec_opens_a_report(
    store: Store, evidence: list[Evidence]
) -> None:
    report = draft(store, evidence)
    Path(next(e.path for e in evidence if "!/" not in e.path)).unlink()
    with (
        served() as (standin, url),
        client(url) as api,
        pytest.raises(CyberTipError, match="not on this server"),
    ):
        submit_report(store, report, actor=ACTOR, client=api)
    assert report_view(store, report).state == "draft" and standin.calls == []


def test_a_report_deleted_by_ncmec_is_opened_again_a_few_times_at_most(
    store: Store, evidence: list[Evidence]
) -> None:
    report = draft(store, evidence[:1])
    with served() as (standin, url), client(url) as api:
        standin.fail_next("upload", 5001)
        view = submit_report(store, report, actor=ACTOR, client=api)
        assert view.state == "finished" and standin.count("submit") == 2
        # Deleted at NCMEC (5001): nothing to retract, and its id is kept.
        assert standin.count("retract", None) == 0 and len(view.abandoned_report_ids) == 1
        again = draft(store, evidence[:1])
        for _ in range(3):
            standin.fail_next("upload", 5001)
        with pytest.raises(CyberTipConflictError, match="abandoned 2 times"):
            submit_report(store, again, actor=ACTOR, client=api)
    assert len(report_view(store, again).abandoned_report_ids) == 2


def test_retract(store: Store, evidence: list[Evidence]) -> None:
    finished, opened, never_sent = (draft(store, evidence[:1]) for _ in range(3))
    with served() as (standin, url), client(url) as api:
        submit_report(store, finished, actor=ACTOR, client=api)
        with pytest.raises(CyberTipConflictError, match="cannot be retracted"):
            retract_report(store, finished, actor=ACTOR, client=api)
        standin.fail_next("finish", 1000)
        with pytest.raises(CyberTiplineResponseError):
            submit_report(store, opened, actor=ACTOR, client=api)
        ncmec_id = report_view(store, opened).ncmec_report_id
        assert ncmec_id is not None
        view = retract_report(store, opened, actor=ACTOR, client=api)
        assert standin.reports[ncmec_id].state == "retracted"
        # Retracted at NCMEC already (5101): retracted here too.
        assert retract_report(store, opened, actor=ACTOR, client=api).note == "already retracted"
        unsent = retract_report(store, never_sent, actor=ACTOR, client=None)
        with pytest.raises(CyberTipConflictError, match="retracted"):
            submit_report(store, never_sent, actor=ACTOR, client=api)
    assert view.state == "retracted" and view.retracted_at is not None
    assert unsent.state == "retracted" and standin.count("retract") == 1


def test_credentials_never_appear_in_audit_logs_or_errors(
    store: Store,
    evidence: list[Evidence],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import base64

    monkeypatch.setenv("KAITIAKI_SECRET_KEY", Fernet.generate_key().decode())
    caplog.set_level(logging.DEBUG)
    username, password = parse_credentials(json.dumps({"username": USER, "password": PASSWORD}))
    set_credentials(store, username, password, production=False, actor=ACTOR)
    errors: list[str] = []
    with served() as (_standin, url):
        monkeypatch.setenv("KAITIAKI_CYBERTIP_URL", url)
        connection = load_connection(store)
        assert connection.environment == "test" and connection.base_url == url
        assert PASSWORD not in repr(connection)
        with connection.client() as api:
            assert status_check(api).startswith(f"Remote User : {USER}")
            view = submit_report(store, draft(store, evidence[:1]), actor=ACTOR, client=api)
        set_credentials(store, USER, "wrong-" + PASSWORD, production=True, actor=ACTOR)
        with load_connection(store).client() as api:
            refused_draft = draft(store, evidence[:1])
            with pytest.raises(CyberTiplineResponseError) as refused:
                submit_report(store, refused_draft, actor=ACTOR, client=api)
            errors += [str(refused.value), repr(refused.value), repr(api)]
        # Refused credentials are the account's problem, not the report's: still a draft.
        assert report_view(store, refused_draft).state == "draft"
    assert view.state == "finished" and refused.value.code == 2000
    with store.session() as session:
        audit = [
            json.dumps([e.actor, e.action, e.target_id, e.reason, e.details])
            for e in session.scalars(select(AuditEvent))
        ]
        sealed = session.get(ExchangeApiCredentials, API_NAME)
        assert sealed is not None
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for text in [*audit, caplog.text, *errors, sealed.credentials]:
        assert PASSWORD not in text and token not in text
    assert any('"cybertip.credentials_set"' in a and '"production"' in a for a in audit)
    with pytest.raises(CyberTipError, match="exactly"):
        parse_credentials(json.dumps({"username": USER, "password": PASSWORD, "x": 1}))
    with pytest.raises(CyberTipError) as bad:
        parse_credentials("{" + PASSWORD)
    assert PASSWORD not in str(bad.value)


def test_the_credentials_row_is_not_an_exchange_api() -> None:
    from kaitiaki.exchanges.registry import apis

    assert API_NAME not in apis()
