"""A simulated operation's subjects reported to NCMEC end to end, as a provider would run it:
profile and credentials set, every subject drafted and submitted with one command against the
stand-in (real HTTP on loopback), the connection cut after NCMEC finished one report, and the
run resumed. NCMEC ends with exactly one finished, schema-valid report per subject, none opened
twice, and each finished report is on a year's legal hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cybertip_samples import Analysed, analyse, subject_accounts
from lxml import etree
from ncmec_shared import ncmec_schema
from sqlalchemy import select

from in_process import kaitiaki
from kaitiaki.audit.log import utc
from kaitiaki.cybertip.reports import list_reports
from kaitiaki.cybertip.standin import StandIn, serve_in_thread
from kaitiaki.store.models import AuditEvent, LegalHold

USER, PASSWORD = "esp-operation-user", "Not-A-Real-Password-e2e"


@pytest.fixture(scope="module")
def operation(tmp_path_factory: pytest.TempPathFactory) -> Analysed:
    return analyse(tmp_path_factory.mktemp("cybertip-e2e"), seed=11, size=600)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The credentials' encryption key is made beside the signing keys: never in the home folder.
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    served = StandIn(USER, PASSWORD)
    with serve_in_thread(served.app) as url:
        monkeypatch.setenv("KAITIAKI_CYBERTIP_URL", url)
        yield served


def _run(a: Analysed, *args: str, input: str | None = None) -> tuple[int, str]:
    result = kaitiaki(*args, "--db", a.db, input=input, env={"KAITIAKI_USER": "ana"})
    return result.exit_code, result.stdout + result.stderr


def test_every_subject_reported_once_through_a_cut_connection(
    operation: Analysed, standin: StandIn
) -> None:
    a = operation
    subjects = sorted(subject_accounts(a.store))
    assert len(subjects) >= 3
    code, out = _run(
        a,
        *("report", "profile", "set", "--first-name", "Ana", "--last-name", "Trust"),
        *("--email", "ana.trust@example.org", "--esp-name", "ExampleCloud"),
    )
    assert code == 0, out
    secret = json.dumps({"username": USER, "password": PASSWORD})
    code, out = _run(a, "report", "credentials", input=secret)
    assert code == 0, out

    # NCMEC finishes the first report, but its answer never arrives: the command stops there,
    # the other subjects drafted and not yet sent.
    standin.fail_next("finish", drop=True)
    flags = [x for s in subjects for x in ("--subject", s)]
    code, out = _run(a, "report", "cybertipline", *flags, "-a", str(a.out), "--submit")
    assert code == 1, out
    assert out.count("drafted CyberTipline report") == len(subjects)
    reports = list_reports(a.store)
    assert [r.subject_id for r in reports] == subjects
    assert reports[0].state == "finishing"  # sent, the answer lost: NCMEC did finish it
    assert all(r.state == "draft" for r in reports[1:])

    # Resumed, report by report, as a person would after reading the error.
    for report in reports:
        code, out = _run(a, "report", "submit", str(report.id))
        assert code == 0, out
    done = list_reports(a.store)
    assert {r.state for r in done} == {"finished"}
    assert len({r.ncmec_report_id for r in done}) == len(subjects)
    # NCMEC: one report opened per subject, each finished once, none abandoned.
    assert standin.count("submit") == len(subjects)
    assert sorted(r.state for r in standin.reports.values()) == ["finished"] * len(subjects)
    assert standin.count("finish", 5102) == 1  # the resumed finish of the cut one
    schema = ncmec_schema()
    for received in standin.reports.values():
        assert schema.validate(etree.fromstring(received.document)), schema.error_log
    # The report a second `submit` finds finished sends nothing.
    calls = len(standin.calls)
    code, out = _run(a, "report", "submit", str(done[0].id))
    assert code == 0 and len(standin.calls) == calls, out

    with a.store.session() as session:
        holds = {
            h.target_id: h
            for h in session.scalars(select(LegalHold).where(LegalHold.basis == "ncmec_report"))
        }
        assert set(holds) == {str(r.id) for r in done}
        for report in done:
            hold = holds[str(report.id)]
            assert hold.reference == str(report.ncmec_report_id)
            assert report.finished_at is not None and hold.expires_at is not None
            assert utc(hold.expires_at) - utc(report.finished_at) == timedelta(days=365)
        actors = set(
            session.scalars(select(AuditEvent.actor).where(AuditEvent.action.like("cybertip.%")))
        )
    assert actors == {"cli:ana"}


def test_submit_without_credentials_says_how_to_set_them(tmp_path: Path) -> None:
    a = analyse(tmp_path, seed=12, size=300)
    subject = sorted(subject_accounts(a.store))[0]
    code, out = _run(
        a,
        *("report", "cybertipline", "--subject", subject, "-a", str(a.out), "--submit"),
        *("--reporter-name", "Ana Trust", "--reporter-email", "ana@example.org"),
        *("--esp-name", "ExampleCloud"),
    )
    assert code == 1 and "kaitiaki report credentials" in out, out
    (report,) = list_reports(a.store)
    assert report.state == "draft"  # drafted and kept; nothing was sent
