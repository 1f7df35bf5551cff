"""kaitiaki.cybertip.schema checks documents as NCMEC does: its own samples pass, documents NCMEC
would refuse fail with words naming the element."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from ncmec_shared import PACKAGED_XSD, ncmec_schema, shared

from kaitiaki.cybertip.schema import CyberTipSchemaError, annotation_names, check_rules, validate


def _sample(name: str) -> bytes:
    return shared(f"samples/{name}").read_bytes()


def test_the_packaged_xsd_is_ncmecs_byte_for_byte() -> None:
    assert PACKAGED_XSD.read_bytes() == shared("cybertipline-report.xsd").read_bytes()


def test_ncmecs_own_samples_validate() -> None:
    validate(_sample("00-report.xml"))
    validate(_sample("05-fileDetails.xml"), what="fileDetails")
    check_rules(_sample("00-report.xml"))
    check_rules(_sample("05-fileDetails.xml"))
    # The same verdict as lxml over the shared copy of the schema.
    assert ncmec_schema().validate(etree.fromstring(_sample("00-report.xml")))


def test_the_wrong_root_is_named() -> None:
    with pytest.raises(CyberTipSchemaError, match="<fileDetails>, not <report>"):
        validate(_sample("05-fileDetails.xml"))
    with pytest.raises(CyberTipSchemaError, match="<report>, not <fileDetails>"):
        validate(_sample("00-report.xml"), what="fileDetails")


def _report() -> etree._Element:
    return etree.fromstring(_sample("00-report.xml"))


def _user(report: etree._Element, event: str = "Upload", port: str = "443") -> etree._Element:
    user = etree.SubElement(report, "personOrUserReported")
    etree.SubElement(user, "espIdentifier").text = "acct-1"
    capture = etree.SubElement(user, "ipCaptureEvent")
    etree.SubElement(capture, "ipAddress").text = "192.0.2.7"
    etree.SubElement(capture, "eventName").text = event
    etree.SubElement(capture, "dateTime").text = "2024-01-02T03:04:05Z"
    etree.SubElement(capture, "port").text = port
    return user


def test_the_old_reports_wrapper_fails() -> None:
    wrapper = etree.Element("reports", version="kaitiaki-cybertip-subset-1")
    wrapper.append(_report())
    with pytest.raises(CyberTipSchemaError, match="<reports>"):
        validate(wrapper)


def test_file_details_inside_a_report_fails() -> None:
    report = _report()
    details = etree.SubElement(report, "fileDetails")
    etree.SubElement(details, "fileId").text = "abc"
    with pytest.raises(CyberTipSchemaError, match="fileDetails"):
        validate(report)


def test_an_event_name_outside_ncmecs_list_fails() -> None:
    report = _report()
    _user(report, event="Download")
    with pytest.raises(CyberTipSchemaError, match="eventName"):
        validate(report)
    good = _report()
    _user(good, event="Upload")
    validate(good)
    check_rules(good)


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_a_port_out_of_range_fails_the_rules(port: str) -> None:
    report = _report()
    _user(report, port=port)
    validate(report)  # an xs:int: the XSD lets it through
    with pytest.raises(CyberTipSchemaError, match="<port>"):
        check_rules(report)


def test_rules_the_xsd_does_not_express() -> None:
    cases: list[tuple[str, str, str]] = [
        ("personOrUserReported/ipCaptureEvent/ipAddress", "999.1.1.1", "ipAddress"),
        ("personOrUserReported/espIdentifier", "x" * 256, "espIdentifier"),
        (
            "personOrUserReported/ipCaptureEvent/dateTime",
            (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "future",
        ),
        ("reporter/reportingPerson/email", "not-an-email", "email"),
    ]
    base = _report()
    _user(base)
    for path, value, words in cases:
        report = copy.deepcopy(base)
        report.find(path).text = value
        with pytest.raises(CyberTipSchemaError, match=words):
            check_rules(report)
    report = copy.deepcopy(base)
    summary = report.find("incidentSummary")
    etree.SubElement(summary, "escalateToHighPriority").text = "  "
    with pytest.raises(CyberTipSchemaError, match="escalateToHighPriority"):
        check_rules(report)
    report = copy.deepcopy(base)
    service = etree.Element("espService")
    service.text = "s" * 101
    report.find("personOrUserReported/espIdentifier").addnext(service)
    validate(report)
    with pytest.raises(CyberTipSchemaError, match=r"espService.*at most 100"):
        check_rules(report)
    report = copy.deepcopy(base)
    report.append(copy.deepcopy(report.find("personOrUserReported")))
    validate(report)  # the XSD allows many; NCMEC's rules one outside batched reports
    with pytest.raises(CyberTipSchemaError, match="more than once"):
        check_rules(report)


def test_a_bad_hash_type_or_file_content_fails() -> None:
    details = etree.fromstring(_sample("05-fileDetails.xml"))
    etree.SubElement(details, "fileContent").text = "aGVsbG8="
    with pytest.raises(CyberTipSchemaError, match="fileContent"):
        validate(details, what="fileDetails")


def test_annotation_names_come_from_the_xsd() -> None:
    sample = _report().find("incidentSummary/reportAnnotations")
    assert annotation_names("reportAnnotations") == tuple(e.tag for e in sample)
    assert "generativeAi" in annotation_names("fileAnnotations")


def test_not_xml_is_a_schema_error() -> None:
    with pytest.raises(CyberTipSchemaError, match="well-formed"):
        validate(b"<report>")
