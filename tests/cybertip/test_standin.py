"""The stand-in answers like NCMEC's documentation says NCMEC does: the shapes, the codes, the
order rules, the XSD checks, and the faults a test asks of it. Real HTTP on loopback."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from lxml import etree
from submit_world import PASSWORD, REPORT, USER, details, served

from kaitiaki.cybertip.standin import StandIn

XML = {"Content-Type": "text/xml; charset=utf-8"}


def _code(response: httpx.Response) -> int:
    return int(etree.fromstring(response.content).findtext("responseCode"))


def _report_id(response: httpx.Response) -> int:
    return int(etree.fromstring(response.content).findtext("reportId"))


@pytest.fixture
def http() -> object:
    with served() as (standin, url), httpx.Client(base_url=url, auth=(USER, PASSWORD)) as web:
        yield standin, web


def _open(web: httpx.Client) -> int:
    return _report_id(web.post("/submit", content=REPORT.encode(), headers=XML))


def _details(report_id: int, file_id: str) -> bytes:
    text = details("a.jpg").replace("<reportId>0", f"<reportId>{report_id}")
    return text.replace("pending", file_id).encode()


def test_the_documented_shapes_and_codes(http: tuple[StandIn, httpx.Client]) -> None:
    standin, web = http
    status = web.get("/status")
    assert status.headers["Request-ID"] and _code(status) == 0
    assert b"<xs:schema" in web.get("/xsd").content
    report_id = _open(web)
    upload = web.post("/upload", data={"id": str(report_id)}, files={"file": ("a.jpg", b"abc")})
    answer = etree.fromstring(upload.content)
    file_id = answer.findtext("fileId")
    assert answer.findtext("hash") == hashlib.md5(b"abc", usedforsecurity=False).hexdigest()
    assert _code(web.post("/fileinfo", content=_details(report_id, file_id), headers=XML)) == 0
    # File details once per file.
    assert _code(web.post("/fileinfo", content=_details(report_id, file_id), headers=XML)) == 4000
    assert _code(web.post("/fileinfo", content=_details(report_id, "nope"), headers=XML)) == 5002
    done = etree.fromstring(web.post("/finish", data={"id": str(report_id)}).content)
    assert done.tag == "reportDoneResponse" and done.findtext("files/fileId") == file_id
    assert standin.files[file_id].details is not None
    assert standin.reports[report_id].state == "finished"


def test_order_rules(http: tuple[StandIn, httpx.Client]) -> None:
    _standin, web = http
    assert _code(web.post("/upload", data={"id": "999"}, files={"file": ("a", b"x")})) == 5001
    assert _code(web.post("/finish", data={"id": "999"})) == 5001
    assert _code(web.post("/retract", data={"id": "999"})) == 5001
    finished, retracted = _open(web), _open(web)
    assert _code(web.post("/finish", data={"id": str(finished)})) == 0
    assert _code(web.post("/retract", data={"id": str(retracted)})) == 0
    for report_id, code in ((finished, 5102), (retracted, 5101)):
        assert _code(web.post("/finish", data={"id": str(report_id)})) == code
        assert _code(web.post("/retract", data={"id": str(report_id)})) == code
        files = {"file": ("a", b"x")}
        assert _code(web.post("/upload", data={"id": str(report_id)}, files=files)) == code
    assert _code(web.post("/upload", data={"id": str(_open(web))})) == 4200


def test_documents_are_checked_against_the_xsd(http: tuple[StandIn, httpx.Client]) -> None:
    standin, web = http
    assert _code(web.post("/submit", content=b"<report><unclosed>", headers=XML)) == 4110
    invalid = REPORT.replace("<incidentType>", "<incidentType>Not a type").encode()
    assert _code(web.post("/submit", content=invalid, headers=XML)) == 4100
    # A valid document of the wrong kind is refused too.
    assert _code(web.post("/submit", content=_details(1, "f"), headers=XML)) == 4100
    assert standin.reports == {}


def test_bad_credentials_get_2000_and_401() -> None:
    with served() as (standin, url):
        for auth in ((USER, "wrong"), ("someone", PASSWORD), None):
            answer = httpx.post(f"{url}/submit", content=REPORT.encode(), auth=auth)
            assert (answer.status_code, _code(answer)) == (401, 2000)
    assert standin.reports == {}


def test_faults_answer_a_code_or_drop_after_doing_the_call(
    http: tuple[StandIn, httpx.Client],
) -> None:
    standin, web = http
    standin.fail_next("submit", 4100)
    assert _code(web.post("/submit", content=REPORT.encode(), headers=XML)) == 4100
    assert standin.reports == {}
    report_id = _open(web)
    standin.fail_next("finish", drop=True)
    with pytest.raises(httpx.HTTPError):
        web.post("/finish", data={"id": str(report_id)})
    # The call was carried out although no answer came.
    assert standin.reports[report_id].state == "finished"
    assert standin.count("finish") == 1
    assert _code(web.post("/finish", data={"id": str(report_id)})) == 5102
