"""Checking CyberTipline documents the way NCMEC will: its XSD, then its documented rules.

``xsd/cybertipline-report.xsd`` is a byte-identical copy of the schema NCMEC publishes to
registered providers (``https://report.cybertip.org/ispws/xsd``). The XSD leaves many of the
rules in NCMEC's API documentation unsaid (lengths, address syntax, times in the past, one
reported person per report); a document breaking one is accepted by the schema and refused by
NCMEC's server. ``check_rules`` checks the ones kaitiaki's documents could break, so that a
report is refused here, where a person can fix it, and not after it was opened at NCMEC.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any, Literal
from urllib.parse import urlsplit

from lxml import etree

from kaitiaki.cybertip.errors import CyberTipSchemaError

XSD_NAME = "cybertipline-report.xsd"
_XS = "{http://www.w3.org/2001/XMLSchema}"

# Maximum lengths from NCMEC's API documentation (appendices A to C), by the element's parent
# and name; "*" is any parent. Only fields kaitiaki fills are listed.
MAX_LENGTHS: dict[tuple[str, str], int] = {
    ("incidentSummary", "platform"): 256,
    ("incidentSummary", "escalateToHighPriority"): 3000,
    ("incidentSummary", "incidentDateTimeDescription"): 3000,
    ("reportingPerson", "firstName"): 100,
    ("reportingPerson", "lastName"): 100,
    ("personOrUserReportedPerson", "firstName"): 100,
    ("personOrUserReportedPerson", "lastName"): 100,
    ("reporter", "legalURL"): 2083,
    ("personOrUserReported", "espIdentifier"): 255,
    ("personOrUserReported", "espService"): 100,
    ("personOrUserReported", "screenName"): 256,
    ("personOrUserReported", "displayName"): 255,
    ("personOrUserReported", "groupIdentifier"): 255,
    ("associatedAccount", "espIdentifier"): 256,
    ("associatedAccount", "espService"): 256,
    ("associatedAccount", "screenName"): 256,
    ("associatedAccount", "displayName"): 255,
    ("associatedAccount", "platform"): 256,
    ("deviceId", "idType"): 255,
    ("deviceId", "idValue"): 2083,
    ("fileDetails", "originalFileName"): 2056,
    ("*", "phone"): 50,
    ("*", "email"): 255,
}
# dateTime elements NCMEC requires to be in the past.
PAST = ("incidentDateTime", "dateTime", "uploadedToEspTimestamp")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _xsd_bytes() -> bytes:
    return files("kaitiaki.cybertip").joinpath("xsd", XSD_NAME).read_bytes()


@cache
def _schema() -> Any:
    # Compiled once per process: the schema is ~3,000 lines and every draft is checked.
    return etree.XMLSchema(etree.fromstring(_xsd_bytes()))


@cache
def country_codes() -> frozenset[str]:
    """The country codes NCMEC's ``country`` type enumerates (ISO 3166-1 alpha-2 and a few of
    its own), read from the XSD."""
    root = etree.fromstring(_xsd_bytes())
    found = root.find(f"{_XS}simpleType[@name='country']")
    assert found is not None, f"country is missing from {XSD_NAME}"
    return frozenset(str(e.get("value")) for e in found.iter(f"{_XS}enumeration") if e.get("value"))


@cache
def annotation_names(kind: Literal["reportAnnotations", "fileAnnotations"]) -> tuple[str, ...]:
    """The tags NCMEC allows in ``reportAnnotations`` or ``fileAnnotations``, read from the XSD
    itself so that a new tag in a new schema is allowed without a code change."""
    root = etree.fromstring(_xsd_bytes())
    found = root.find(f"{_XS}complexType[@name='{kind}']")
    assert found is not None, f"{kind} is missing from {XSD_NAME}"
    return tuple(str(e.get("name")) for e in found.iter(f"{_XS}element"))


def _root(document: Any) -> Any:
    if isinstance(document, str):
        document = document.encode("utf-8")
    if isinstance(document, bytes):
        try:
            return etree.fromstring(document)
        except etree.XMLSyntaxError as exc:
            raise CyberTipSchemaError(f"not well-formed XML: {exc}") from None
    if hasattr(document, "getroot"):
        return document.getroot()
    return document


def validate(document: Any, *, what: Literal["report", "fileDetails"] = "report") -> None:
    """Raise ``CyberTipSchemaError`` unless ``document`` (an element, tree, bytes or text) is a
    ``<report>`` (or ``<fileDetails>``) valid against NCMEC's XSD."""
    root = _root(document)
    if root.tag != what:
        # The schema accepts any of its global elements as a root (reportResponse too); NCMEC's
        # /submit takes only <report> and /fileinfo only <fileDetails>.
        raise CyberTipSchemaError(f"line {root.sourceline}: the root is <{root.tag}>, not <{what}>")
    schema = _schema()
    if not schema.validate(root):
        error = schema.error_log.last_error
        raise CyberTipSchemaError(f"invalid against {XSD_NAME}: line {error.line}: {error.message}")


def _fail(element: Any, message: str) -> None:
    raise CyberTipSchemaError(f"line {element.sourceline}: <{element.tag}> {message}")


def _valid_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def _lengths(root: Any) -> None:
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        parent = element.getparent()
        parent_tag = parent.tag if parent is not None else ""
        limit = MAX_LENGTHS.get((parent_tag, element.tag), MAX_LENGTHS.get(("*", element.tag)))
        if limit is not None and len(element.text or "") > limit:
            _fail(element, f"is {len(element.text)} characters; NCMEC allows at most {limit}")


def _email(element: Any) -> None:
    value = element.text or ""
    local = value.rpartition("@")[0]
    if not _EMAIL.fullmatch(value):
        _fail(element, f"{value!r} is not a well-formed email address")
    if len(local) > 64:
        _fail(element, "has a local part (before @) longer than 64 characters")


def _past(element: Any, now: datetime) -> None:
    try:
        at = datetime.fromisoformat(element.text or "")
    except ValueError:
        return  # the XSD's xs:dateTime check reports it
    if at.tzinfo is None:
        _fail(element, "has no time zone; NCMEC needs Z or +/-hh:mm")
    if at > now:
        _fail(element, f"{element.text} is in the future; NCMEC requires a time in the past")


def check_rules(document: Any) -> None:
    """Raise ``CyberTipSchemaError`` where ``document`` breaks a rule of NCMEC's documentation
    that the XSD does not express (see ``MAX_LENGTHS`` and the checks below)."""
    root = _root(document)
    now = datetime.now(UTC)
    _lengths(root)
    for element in root.iter("ipAddress"):
        try:
            ipaddress.ip_address((element.text or "").strip())
        except ValueError:
            _fail(element, f"{element.text!r} is not a valid IPv4 or IPv6 address")
    for element in root.iter("port"):
        text = (element.text or "").strip()
        if not (text.lstrip("+-").isdigit() and 1 <= int(text) <= 65535):
            _fail(element, f"{element.text} is not a port between 1 and 65535")
    for tag in PAST:
        for element in root.iter(tag):
            _past(element, now)
    for element in root.iter("escalateToHighPriority"):
        if not (element.text or "").strip():
            _fail(element, "must not be blank: leave it out unless the report is escalated")
    for element in root.iter("email"):
        _email(element)
    for element in root.iter("idType", "idValue"):
        if not (element.text or "").strip():
            _fail(element, "must not be blank")
    for element in root.iter("legalURL"):
        if not _valid_url(element.text or ""):
            _fail(element, f"{element.text!r} is not a valid http(s) URL")
    for element in root.iter("phone"):
        code = element.get("countryCallingCode")
        if code and (element.text or "").startswith(code.lstrip("+")):
            _fail(element, "must not start with its countryCallingCode")
    if root.tag == "report":
        _report_rules(root)
    else:
        _file_rules(root)


def _report_rules(root: Any) -> None:
    person = root.find("reporter/reportingPerson")
    if person is not None and person.find("email") is None:
        _fail(person, "needs an email (NCMEC requires the reporting person's email)")
    reported = root.findall("personOrUserReported")
    if len(reported) > 1 and root.find("batchedReport") is None:
        # The XSD allows many; NCMEC's documentation allows one outside batched reports.
        _fail(reported[1], "appears more than once; NCMEC allows one reported person per report")


def _file_rules(root: Any) -> None:
    if root.findtext("exifViewedByEsp") == "true" and root.findtext("fileViewedByEsp") != "true":
        _fail(root, "says the EXIF was viewed but not the file; NCMEC requires both")
    if root.findtext("fileRelevance") == "Supplemental Reported" and (
        root.find("industryClassification") is not None
    ):
        _fail(root, "is Supplemental Reported with an industryClassification")
    if not (root.findtext("fileId") or "").strip():
        _fail(root, "needs a fileId")
