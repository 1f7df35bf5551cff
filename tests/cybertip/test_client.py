"""The CyberTipline client: the documented calls against the stand-in over real HTTP, and clean
errors from whatever a hostile or broken server answers (a fake transport, no network)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import httpx
import pytest
from submit_world import PASSWORD, REPORT, USER, client, details, served

from kaitiaki.cybertip.client import (
    MAX_RESPONSE,
    TEST_URL,
    CyberTiplineClient,
    CyberTiplineError,
    CyberTiplineResponseError,
    CyberTiplineTransportError,
    base_url_for,
)

OK = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<reportResponse><responseCode>0</responseCode><responseDescription>Success</responseDescription>
<reportId>4564654</reportId></reportResponse>"""


def _fake(answer: Callable[[httpx.Request], httpx.Response]) -> CyberTiplineClient:
    return CyberTiplineClient(
        TEST_URL, USER, PASSWORD, timeout=5, transport=httpx.MockTransport(answer)
    )


def test_the_documented_calls_against_the_stand_in() -> None:
    content = b"benign bytes " * 100_000
    with served() as (standin, url), client(url) as api:
        assert api.status().startswith(f"Remote User : {USER}, Remote Ip : 127.0.0.1")
        report_id = api.submit(REPORT.encode())
        chunks = (content[i : i + 65536] for i in range(0, len(content), 65536))
        file_id, md5 = api.upload(report_id, "coffee.jpg", chunks, len(content))
        assert md5 == hashlib.md5(content, usedforsecurity=False).hexdigest()
        sent = details("coffee.jpg").replace("<reportId>0", f"<reportId>{report_id}")
        api.fileinfo(sent.replace("pending", file_id).encode())
        assert api.finish(report_id) == [file_id]
        with pytest.raises(CyberTiplineResponseError) as again:
            api.finish(report_id)
    assert again.value.code == 5102 and again.value.request_id
    assert "Request-ID" in str(again.value)
    received = standin.files[file_id]
    assert (received.size, received.filename, received.report_id) == (
        len(content),
        "coffee.jpg",
        report_id,
    )
    assert standin.reports[report_id].state == "finished"


def test_bad_credentials_are_a_clear_error_that_never_holds_them() -> None:
    wrong = "wrong-" + PASSWORD
    with (
        served() as (_standin, url),
        client(url, password=wrong) as api,
        pytest.raises(CyberTiplineResponseError) as refused,
    ):
        api.status()
    error = refused.value
    assert (error.code, error.http_status) == (2000, 401)
    assert "Authentication required" in str(error)
    for text in (str(error), repr(error), repr(api), str(error.args)):
        assert wrong not in text and PASSWORD not in text


def test_an_upload_is_streamed_with_its_length_and_refused_when_short() -> None:
    seen: dict[str, object] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen["length"] = request.headers["Content-Length"]
        seen["chunked"] = request.headers.get("Transfer-Encoding")
        body = b"".join(request.stream)  # type: ignore[union-attr]
        seen["body"] = body
        md5 = hashlib.md5(b"abcdef", usedforsecurity=False).hexdigest()
        return httpx.Response(
            200,
            content=b"<reportResponse><responseCode>0</responseCode><responseDescription/>"
            b"<reportId>1</reportId><fileId>f1</fileId><hash>" + md5.encode() + b"</hash>"
            b"</reportResponse>",
        )

    with _fake(answer) as api:
        assert api.upload(1, 'a"b\r\n.jpg', iter([b"abc", b"def"]), 6)[0] == "f1"
        assert seen["chunked"] is None and int(str(seen["length"])) == len(seen["body"])  # type: ignore[arg-type]
        assert b'filename="a_b__.jpg"' in seen["body"]  # type: ignore[operator]
        with pytest.raises(CyberTiplineTransportError, match="gave 3 of 6 bytes"):
            api.upload(1, "a.jpg", iter([b"abc"]), 6)


HOSTILE = {
    "oversized": (200, b"<reportResponse>" + b"A" * (MAX_RESPONSE + 10)),
    "not xml": (200, b"<html><body>maintenance</body"),
    "server page": (500, b"Internal Server Error"),
    "other root": (200, b"<status><responseCode>0</responseCode></status>"),
    "no code": (
        200,
        b"<reportResponse><responseDescription>x</responseDescription></reportResponse>",
    ),
    "entity expansion": (
        200,
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">'
        b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        b"<reportResponse><responseCode>&d;</responseCode></reportResponse>",
    ),
    "external entity": (
        200,
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<reportResponse><responseCode>1</responseCode><responseDescription>&x;"
        b"</responseDescription></reportResponse>",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_or_broken_answer_is_a_clean_error(case: str) -> None:
    status, body = HOSTILE[case]
    with _fake(lambda request: httpx.Response(status, content=iter([body]))) as api:
        started = time.monotonic()
        with pytest.raises(CyberTiplineError) as failed:
            api.submit(REPORT.encode())
    assert time.monotonic() - started < 5
    message = str(failed.value)
    assert len(message) < 400 and "root:" not in message and PASSWORD not in message
    if case == "external entity":
        assert isinstance(failed.value, CyberTiplineResponseError) and failed.value.code == 1


def test_a_compressed_answer_is_never_expanded() -> None:
    import gzip

    bomb = gzip.compress(b"<reportResponse>" + b" " * (64 << 20))
    headers = {"Content-Encoding": "gzip"}
    # Streamed (an iterator), as a network answer is: nothing is read before the client reads.
    with (
        _fake(lambda request: httpx.Response(200, content=iter([bomb]), headers=headers)) as api,
        pytest.raises(CyberTiplineTransportError, match="not XML"),
    ):
        api.status()


def test_a_refusal_keeps_ncmec_s_code_words_and_request_id() -> None:
    body = (
        b"<reportResponse><responseCode>4100</responseCode>"
        b"<responseDescription>Validation failed</responseDescription></reportResponse>"
    )
    answer = httpx.Response(200, content=body, headers={"Request-ID": "req-42"})
    with _fake(lambda request: answer) as api, pytest.raises(CyberTiplineResponseError) as no:
        api.submit(REPORT.encode())
    assert (no.value.code, no.value.description, no.value.request_id) == (
        4100,
        "Validation failed",
        "req-42",
    )
    assert not no.value.transient


@pytest.mark.parametrize("kind", [httpx.ConnectError, httpx.ReadTimeout])
def test_no_answer_is_a_transport_error(kind: type[httpx.TransportError]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise kind("no route", request=request)

    with _fake(answer) as api, pytest.raises(CyberTiplineTransportError) as failed:
        api.finish(1)
    assert "finish" in str(failed.value) and PASSWORD not in str(failed.value)


def test_a_redirect_is_not_followed_with_the_credentials() -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/steal"})

    with _fake(answer) as api, pytest.raises(CyberTiplineTransportError):
        api.status()
    assert calls == [f"{TEST_URL}/status"]


def test_the_test_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAITIAKI_CYBERTIP_URL", raising=False)
    assert base_url_for("test") == "https://exttest.cybertip.org/ispws"
    assert base_url_for("production") == "https://report.cybertip.org/ispws"
    monkeypatch.setenv("KAITIAKI_CYBERTIP_URL", "http://127.0.0.1:9/")
    assert base_url_for("production") == "http://127.0.0.1:9"
