"""The CyberTipline documents: one ``<report>`` per subject, one ``<fileDetails>`` per file.

NCMEC's protocol is a conversation: ``/submit`` takes one ``<report>`` (no files inside),
``/upload`` takes a file, ``/fileinfo`` one ``<fileDetails>`` naming the report and the file NCMEC
assigned. Children are written in the order of the XSD's sequences.

Choices worth knowing:

* One report per subject (a subject is one person). NCMEC's documentation allows one
  ``personOrUserReported`` outside batched reports (the XSD allows more), so the subject's first
  account is the reported user and each other account an ``associatedAccount`` of type
  ``Linked``, carrying its own identifiers and IP captures.
* ``fileDetails`` can only be sent for an uploaded file. A provider that does not upload files
  (or a file with no evidence copy to upload) would otherwise tell NCMEC nothing of them, so
  those files' hashes go as a short plain-text list in the report's ``additionalInfo``.
* ``fileViewedByEsp`` and ``industryClassification`` come from ``gather`` (the provider's own
  word; NCMEC classes only). ``eventName`` is NCMEC's enumeration: an upload is ``Upload``,
  anything else (a download, view or share) ``Other``.
* A screen name is at most one per user (XSD): the first username; others are display names.
* Values NCMEC would refuse in its element (a malformed email, an invalid address, an
  over-long name) are not dropped: they go in the user's ``additionalInfo``, as the provider
  holds them.
* Reports carry hashes and records, never file content.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from lxml import etree

from kaitiaki.cybertip.errors import CyberTipError
from kaitiaki.cybertip.schema import MAX_LENGTHS, annotation_names, country_codes

INCIDENT_TYPE = "Child Pornography (possession, manufacture, and distribution)"
SCHEMA_LOCATION = "https://report.cybertip.org/ispws/xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DEVICE_ID_TYPE = "Device ID"  # the provider's export does not say IMEI, ICCID or other
PENDING_REPORT_ID = 0
PENDING_FILE_ID = "pending"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who files the report (from the provider profile, or a one-off override)."""

    first_name: str
    last_name: str
    email: str
    esp_name: str
    phone: str | None = None
    esp_service: str | None = None
    platform: str | None = None
    company_template: str | None = None
    terms_of_service: str | None = None
    legal_url: str | None = None


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone number: national digits with their calling code ("+64"), or as held."""

    number: str
    calling_code: str | None = None


@dataclass(frozen=True, slots=True)
class IpCapture:
    ip: str
    event: str  # NCMEC's ipCaptureType: Upload or Other here
    at: datetime
    proxy: bool
    port: int | None = None


@dataclass(frozen=True, slots=True)
class ReportedAccount:
    account_id: str
    emails: tuple[str, ...] = ()
    phones: tuple[Phone, ...] = ()
    usernames: tuple[str, ...] = ()
    device_ids: tuple[str, ...] = ()
    captures: tuple[IpCapture, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportedFile:
    object_id: str
    sha256: str | None
    hashes: tuple[tuple[str, str], ...]  # (NCMEC hashType, value): MD5, SHA1, SHA256
    viewed_by_esp: bool
    classification: str | None = None  # A1/A2/B1/B2 only
    upload: IpCapture | None = None
    original_name: str | None = None
    annotations: tuple[str, ...] = ()  # fileAnnotations a person set


@dataclass(frozen=True, slots=True)
class ReportContent:
    subject_id: str
    incident_at: datetime  # the first flagged event
    accounts: tuple[ReportedAccount, ...]
    files: tuple[ReportedFile, ...]
    prior_reports: tuple[int, ...] = ()
    # The country the operation attributed the subject's activity to (ISO 3166-1 alpha-2).
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Review:
    """What a person sets on review."""

    escalate: str | None = None
    annotations: tuple[str, ...] = ()


def utc(value: datetime) -> str:
    if value.tzinfo is None:
        # Ingestion stores UTC; a naive value here can only be UTC that lost its zone.
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, tag, **attrs)
    if text is not None:
        try:
            element.text = text
        except ValueError:
            # Control characters and the like: XML cannot carry them at all.
            raise CyberTipError(f"<{tag}> cannot hold {text[:40]!r}: not XML text") from None
    return element


def _fits(parent: str, tag: str, value: str) -> bool:
    limit = MAX_LENGTHS.get((parent, tag), MAX_LENGTHS.get(("*", tag)))
    return bool(value.strip()) and (limit is None or len(value) <= limit)


def good_email(value: str) -> bool:
    return (
        bool(_EMAIL.fullmatch(value)) and len(value.rpartition("@")[0]) <= 64 and len(value) <= 255
    )


def check_annotations(
    names: Iterable[str],
    kind: Literal["reportAnnotations", "fileAnnotations"] = "reportAnnotations",
) -> tuple[str, ...]:
    """``names`` in the XSD's order, or ``CyberTipError`` naming the allowed ones."""
    allowed = annotation_names(kind)
    wanted = {n.strip() for n in names if n.strip()}
    unknown = sorted(wanted - set(allowed))
    if unknown:
        raise CyberTipError(
            f"unknown {kind} {', '.join(unknown)}: NCMEC allows {', '.join(allowed)}"
        )
    return tuple(n for n in allowed if n in wanted)


def _capture(parent: Any, capture: IpCapture) -> None:
    element = _sub(parent, "ipCaptureEvent")
    _sub(element, "ipAddress", capture.ip)
    _sub(element, "eventName", capture.event)
    _sub(element, "dateTime", utc(capture.at))
    _sub(element, "possibleProxy", str(capture.proxy).lower())
    if capture.port is not None:
        _sub(element, "port", str(capture.port))


def _phone(parent: Any, phone: Phone) -> None:
    if phone.calling_code:
        _sub(parent, "phone", phone.number, countryCallingCode=phone.calling_code)
    else:
        _sub(parent, "phone", phone.number)


def _account(element: Any, account: ReportedAccount, where: str, service: str | None) -> list[str]:
    """The children of a personOrUserReported (``where``) or an associatedAccount, in the
    order of each type's sequence; what NCMEC would refuse goes to additionalInfo."""
    held: list[str] = []
    emails = [e for e in account.emails if good_email(e)]
    held += [f"email {e}" for e in account.emails if not good_email(e)]
    phones = [p for p in account.phones if _fits(where, "phone", p.number)]
    held += [f"phone {p.number}" for p in account.phones if p not in phones]
    names = [n for n in account.usernames if _fits(where, "displayName", n)]
    held += [f"username {n}" for n in account.usernames if n not in names]
    captures = [c for c in account.captures if _ip(c.ip) and (c.port is None or 0 < c.port < 65536)]
    held += [f"address {c.ip} at {utc(c.at)}" for c in account.captures if c not in captures]
    devices = [d for d in account.device_ids if _fits("deviceId", "idValue", d)]
    held += [f"device {d}" for d in account.device_ids if d not in devices]
    if where == "personOrUserReported":
        if emails or phones:
            person = _sub(element, "personOrUserReportedPerson")
            for phone in phones:
                _phone(person, phone)
            for email in emails:
                _sub(person, "email", email)
        _sub(element, "espIdentifier", account.account_id)
        if service:
            _sub(element, "espService", service)
    else:
        for phone in phones:
            _phone(element, phone)
        for email in emails:
            _sub(element, "email", email)
        if service:
            _sub(element, "espService", service)
        _sub(element, "espIdentifier", account.account_id)
    for n, name in enumerate(names):
        # The XSD allows one screenName: the first username; the others are display names.
        _sub(element, "screenName" if n == 0 else "displayName", name)
    for capture in captures:
        _capture(element, capture)
    for device in devices:
        device_id = _sub(element, "deviceId")
        _sub(device_id, "idType", DEVICE_ID_TYPE)
        _sub(device_id, "idValue", device)
    return held  # the caller writes them last, after what it adds in between


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _held(element: Any, held: Sequence[str]) -> None:
    if held:
        _sub(
            element, "additionalInfo", "Identifiers as the provider holds them: " + "; ".join(held)
        )


def build_report(
    content: ReportContent, reporter: Reporter, review: Review, additional_info: str | None
) -> Any:
    """The ``<report>`` element (not yet validated: ``schema.validate`` and ``check_rules``)."""
    if not content.accounts:
        raise CyberTipError(f"subject {content.subject_id} has no flagged account to report")
    report = etree.Element(
        "report", {f"{{{XSI}}}noNamespaceSchemaLocation": SCHEMA_LOCATION}, nsmap={"xsi": XSI}
    )
    summary = _sub(report, "incidentSummary")
    _sub(summary, "incidentType", INCIDENT_TYPE)
    if reporter.platform:
        _sub(summary, "platform", reporter.platform)
    if review.escalate is not None:
        _sub(summary, "escalateToHighPriority", review.escalate)
    annotations = check_annotations(review.annotations)
    if annotations:
        tags = _sub(summary, "reportAnnotations")
        for name in annotations:
            _sub(tags, name)  # an empty element: the XSD fixes its value at true
    _sub(summary, "incidentDateTime", utc(content.incident_at))

    who = _sub(report, "reporter")
    person = _sub(who, "reportingPerson")
    if reporter.first_name.strip():
        _sub(person, "firstName", reporter.first_name.strip())
    _sub(person, "lastName", reporter.last_name.strip())
    if reporter.phone:
        _sub(person, "phone", reporter.phone.strip())
    _sub(person, "email", reporter.email.strip())
    # companyTemplate is the company's own words; without them, at least its name.
    _sub(who, "companyTemplate", reporter.company_template or reporter.esp_name)
    if reporter.terms_of_service:
        _sub(who, "termsOfService", reporter.terms_of_service)
    if reporter.legal_url:
        _sub(who, "legalURL", reporter.legal_url)

    first, *others = content.accounts
    user = _sub(report, "personOrUserReported")
    held = _account(user, first, "personOrUserReported", reporter.esp_service)
    for prior in content.prior_reports:
        _sub(user, "priorCTReports", str(prior))
    if content.country and content.country.upper() in country_codes():
        # Where the attribution placed the activity (geolocated addresses): an estimate,
        # so never "verified"; a code NCMEC's list lacks is left out rather than refused.
        located = _sub(user, "estimatedLocation", verified="false")
        _sub(located, "countryCode", content.country.upper())
    for other in others:
        linked = _sub(user, "associatedAccount", type="Linked")
        _held(linked, _account(linked, other, "associatedAccount", reporter.esp_service))
    _held(user, held)
    if additional_info:
        _sub(report, "additionalInfo", additional_info)
    return report


def build_file_details(
    file: ReportedFile, *, report_id: int = PENDING_REPORT_ID, file_id: str = PENDING_FILE_ID
) -> Any:
    """One ``<fileDetails>``; drafts carry ``PENDING_REPORT_ID`` and ``PENDING_FILE_ID``."""
    details = etree.Element(
        "fileDetails", {f"{{{XSI}}}noNamespaceSchemaLocation": SCHEMA_LOCATION}, nsmap={"xsi": XSI}
    )
    _sub(details, "reportId", str(report_id))
    _sub(details, "fileId", file_id)
    if file.original_name:
        _sub(details, "originalFileName", file.original_name)
    _sub(details, "fileViewedByEsp", str(file.viewed_by_esp).lower())
    _sub(details, "fileRelevance", "Reported")
    annotations = check_annotations(file.annotations, "fileAnnotations")
    if annotations:
        tags = _sub(details, "fileAnnotations")
        for name in annotations:
            _sub(tags, name)
    if file.classification:
        _sub(details, "industryClassification", file.classification)
    for hash_type, value in file.hashes:
        _sub(details, "originalFileHash", value, hashType=hash_type)
    if file.upload is not None and _ip(file.upload.ip):
        _capture(details, file.upload)
    # NCMEC's fileId is its own; the provider's object id lets a reader find the file again.
    _sub(details, "additionalInfo", f"Provider object id: {file.object_id}")
    return details


def with_ids(details: Any, report_id: int, file_id: str) -> Any:
    """A copy of a stored ``<fileDetails>`` with NCMEC's report and file ids filled in."""
    if isinstance(details, str):
        details = details.encode("utf-8")
    filled = etree.fromstring(details if isinstance(details, bytes) else etree.tostring(details))
    filled.find("reportId").text = str(report_id)
    filled.find("fileId").text = file_id
    return filled


def hash_list(details: Iterable[Any]) -> str | None:
    """The plain-text list of files for a report's additionalInfo (files NCMEC gets no
    fileDetails for), one line per file: object id, hashes, viewed, class."""
    lines = []
    for file in details:
        hashes = " ".join(f"{h.get('hashType')}={h.text}" for h in file.iter("originalFileHash"))
        viewed = "yes" if file.findtext("fileViewedByEsp") == "true" else "no"
        line = f"{file.findtext('additionalInfo', '').removeprefix('Provider object id: ')}: "
        line += f"{hashes}; viewed by provider: {viewed}"
        if file.findtext("industryClassification"):
            line += f"; industry classification {file.findtext('industryClassification')}"
        lines.append(line)
    if not lines:
        return None
    head = f"Reported files not uploaded ({len(lines)}), by the provider's object id:"
    return "\n".join([head, *lines])


def to_bytes(document: Any) -> bytes:
    return bytes(
        etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )
