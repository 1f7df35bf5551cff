"""The provider profile (``kaitiaki report profile set|show``), the ``report cybertipline``
command over it, and arbitrary text in the fields a report is made of."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cybertip_samples import Analysed, analyse, subject_accounts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from ncmec_shared import ncmec_schema
from sqlalchemy import select

from in_process import kaitiaki
from kaitiaki.cybertip import CyberTipError, ProfileMissingError
from kaitiaki.cybertip.document import (
    IpCapture,
    Phone,
    ReportContent,
    ReportedAccount,
    ReportedFile,
    Reporter,
    Review,
    build_file_details,
    build_report,
)
from kaitiaki.cybertip.drafts import checked, list_reports
from kaitiaki.cybertip.profile import check_reporter, get_profile, set_profile
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, CyberTipReportFile

PROFILE = [
    *("report", "profile", "set", "--first-name", "Ana", "--last-name", "Trust"),
    *("--email", "ana.trust@example.org", "--esp-name", "ExampleCloud"),
    *("--esp-service", "Example Drive", "--legal-url", "https://example.org/legal"),
]


def test_profile_set_and_show(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAITIAKI_USER", "alice")
    db = ["--db", sqlite_store.url]
    missing = kaitiaki("report", "profile", "show", *db)
    assert missing.exit_code == 1 and "kaitiaki report profile set" in missing.stderr
    done = kaitiaki(*PROFILE, *db)
    assert done.exit_code == 0, done.output
    shown = kaitiaki("report", "profile", "show", *db)
    assert shown.exit_code == 0 and "ana.trust@example.org" in shown.stdout
    assert "Example Drive" in shown.stdout and "cli:alice" in shown.stdout
    again = kaitiaki(*PROFILE[:-2], "--legal-url", "https://example.org/law", *db)
    assert again.exit_code == 0, again.output
    with sqlite_store.session() as session:
        entries = session.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.details).order_by(AuditEvent.id)
        ).all()
    assert [(a, b) for a, b, _ in entries] == [("cybertip.profile_set", "cli:alice")] * 2
    assert entries[1][2] == {"changed": ["legal_url"]}
    bad = kaitiaki(*PROFILE[:7], "--email", "not an email", "--esp-name", "E", *db)
    assert bad.exit_code == 1 and "not a well-formed email" in bad.stderr


def test_profile_checks_ncmecs_limits(sqlite_store: Store) -> None:
    base = {"first_name": "A", "last_name": "B", "email": "a@example.org", "esp_name": "E"}
    with pytest.raises(CyberTipError, match="esp service is 101 characters"):
        set_profile(sqlite_store, actor="t", **base, esp_service="s" * 101)
    with pytest.raises(CyberTipError, match="platform is 257"):
        set_profile(sqlite_store, actor="t", **base, platform="p" * 257)
    with pytest.raises(CyberTipError, match="legal URL"):
        set_profile(sqlite_store, actor="t", **base, legal_url="example.org")
    with pytest.raises(CyberTipError, match="well-formed"):
        set_profile(sqlite_store, actor="t", **{**base, "email": f"{'x' * 65}@example.org"})
    with pytest.raises(ProfileMissingError, match="kaitiaki report profile set --name other"):
        get_profile(sqlite_store, "other")


@pytest.fixture(scope="module")
def operation(tmp_path_factory: pytest.TempPathFactory) -> Analysed:
    return analyse(tmp_path_factory.mktemp("cybertip-cli"), seed=11, size=600)


def test_cli_drafts_a_report(
    operation: Analysed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAITIAKI_USER", "alice")
    monkeypatch.delenv("KAITIAKI_REPORTER_NAME", raising=False)
    a = operation
    subject = sorted(subject_accounts(a.store))[0]
    base = ["report", "cybertipline", "--subject", subject, "-a", str(a.out), "--db", a.db]
    no_profile = kaitiaki(*base)
    assert no_profile.exit_code == 1, no_profile.output
    assert "kaitiaki report profile set" in no_profile.stderr
    flags = ["--reporter-name", "Ana Trust", "--reporter-email", "ana@example.org"]
    some = kaitiaki(*base, *flags)
    assert some.exit_code == 2 and "--esp-name" in some.stderr
    assert "kaitiaki report profile set" in some.stderr
    # Override flags alone make a draft without any profile.
    done = kaitiaki(*base, *flags, "--esp-name", "ExampleCloud")
    assert done.exit_code == 0, done.output
    assert f"for {subject} (" in done.stdout and "valid against NCMEC's schema" in done.stdout
    assert kaitiaki(*PROFILE, "--db", a.db).exit_code == 0
    out = tmp_path / "tip" / "report.xml"
    done = kaitiaki(
        *base,
        "-o",
        str(out),
        "--escalate",
        "a child at risk now",
        "--annotate",
        "sextortion",
        "--annotate",
        "spam",
        "--files",
    )
    assert done.exit_code == 0, done.output
    doc = etree.parse(str(out)).getroot()
    assert ncmec_schema().validate(doc), ncmec_schema().error_log
    assert doc.findtext("reporter/reportingPerson/lastName") == "Trust"
    assert doc.findtext("personOrUserReported/espService") == "Example Drive"
    assert [e.tag for e in doc.find("incidentSummary/reportAnnotations")] == ["sextortion", "spam"]
    newest = list_reports(a.store, subject_id=subject)[-1]
    assert newest.include_files and newest.escalate == "a child at risk now"
    unknown = kaitiaki(*base, "--annotate", "grooming")
    assert unknown.exit_code == 1 and "csamSolicitation" in unknown.stderr
    nobody = kaitiaki(*base[:3], "S-nobody", *base[4:])
    assert nobody.exit_code == 1 and "no flagged accounts" in nobody.stderr
    # A file annotation a person set goes in that file's fileDetails, and nowhere else.
    (first, *others) = list_reports(a.store, subject_id=subject)[-1].files
    annotated = kaitiaki(*base, "--file-annotation", f"{first.object_id}=generativeAi")
    assert annotated.exit_code == 0, annotated.output
    with a.store.session() as session:
        details = dict(
            session.execute(
                select(CyberTipReportFile.object_id, CyberTipReportFile.details).where(
                    CyberTipReportFile.report_id == list_reports(a.store)[-1].id
                )
            ).all()
        )
    assert "<fileAnnotations>" in details[first.object_id]
    assert "<generativeAi/>" in details[first.object_id]
    assert all("generativeAi" not in details[f.object_id] for f in others)
    bad = kaitiaki(*base, "--file-annotation", "no-equals-sign")
    assert bad.exit_code == 2 and "OBJECT=NAME" in bad.stderr


# Text of any kind, the surrogates excluded (not encodable, so never in a database row).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


REPORTER = Reporter("Ana", "Trust", "ana@example.org", "ExampleCloud")
AT = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _content(
    account_id: str,
    emails: list[str],
    names: list[str],
    phones: list[str],
    devices: list[str],
    ip: str,
) -> ReportContent:
    return ReportContent(
        subject_id="S-1",
        incident_at=AT,
        accounts=(
            ReportedAccount(
                account_id,
                tuple(emails),
                tuple(Phone(p) for p in phones),
                tuple(names),
                tuple(devices),
                (
                    IpCapture(ip, "Other", AT, False, 443),
                    IpCapture("192.0.2.1", "Upload", AT, True),
                ),
            ),
            ReportedAccount("linked-1", tuple(emails), usernames=tuple(names)),
        ),
        files=(),
    )


@FUZZ
@given(
    fields=st.tuples(
        TEXT,
        TEXT,
        st.one_of(st.emails(), TEXT),
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        st.one_of(st.just("https://example.org/legal"), TEXT),
    ),
)
def test_arbitrary_profile_text_is_valid_or_a_clear_error(fields: tuple[str, ...]) -> None:
    content = _content("acct-1", ["a@example.org"], ["owl"], [], [], "192.0.2.9")
    try:
        reporter = check_reporter(Reporter(*fields))
        data = checked(build_report(content, reporter, Review(), None))
    except CyberTipError as exc:
        assert str(exc)  # a clear error, never a stack trace from deep inside
        return
    assert ncmec_schema().validate(etree.fromstring(data))


@FUZZ
@given(
    account_id=st.text(min_size=1, max_size=200),
    emails=st.lists(st.one_of(st.emails(), TEXT), max_size=3),
    names=st.lists(TEXT, max_size=3),
    phones=st.lists(TEXT, max_size=3),
    devices=st.lists(TEXT, max_size=3),
    ip=st.one_of(st.ip_addresses().map(str), TEXT),
)
def test_arbitrary_identifiers_are_reported_validly(
    account_id: str,
    emails: list[str],
    names: list[str],
    phones: list[str],
    devices: list[str],
    ip: str,
) -> None:
    """What the provider holds never makes an invalid report: values NCMEC would refuse in
    their element go to additionalInfo; only text XML cannot carry at all is an error."""
    content = _content(account_id, emails, names, phones, devices, ip)
    try:
        data = checked(build_report(content, REPORTER, Review(), None))
        file = ReportedFile(account_id, None, (("MD5", ip),), False, original_name=ip or None)
        details = checked(build_file_details(file), "fileDetails")
    except CyberTipError as exc:
        assert "not XML text" in str(exc), exc
        return
    assert ncmec_schema().validate(etree.fromstring(data))
    assert ncmec_schema().validate(etree.fromstring(details))
