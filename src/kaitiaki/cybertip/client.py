"""A client for NCMEC's CyberTipline Reporting API, as its documentation describes it.

Six calls under one base URL with HTTP basic authentication: ``GET /status``, ``POST /submit``
(one ``<report>``), ``/upload`` (multipart ``id`` and ``file``), ``/fileinfo`` (one
``<fileDetails>``), ``/finish`` and ``/retract`` (form ``id``). Every answer is a
``<reportResponse>`` (``<reportDoneResponse>`` for /finish) whose ``responseCode`` 0 is success.

What comes back is read with care: a bounded number of bytes, parsed by lxml with no network and
no entity expansion, so a hostile or broken server can cost neither memory nor a request
elsewhere. Errors name the call, the code and NCMEC's Request-ID (what NCMEC's support asks
for), never the credentials: they travel only in httpx's ``auth``, never in a URL or message.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from lxml import etree

TEST_URL = "https://exttest.cybertip.org/ispws"
PRODUCTION_URL = "https://report.cybertip.org/ispws"
# An answer is a few hundred bytes; anything past this is not NCMEC's answer.
MAX_RESPONSE = 64 << 10
CHUNK = 1 << 20
# Documented codes (appendix D) that say "try again later", not "this report is wrong".
TRANSIENT_CODES = frozenset({1000})
# Refusals of the account, not of the report (authentication, authorisation): a report is not
# failed for them; once the credentials or NCMEC's grant are put right, a retry resumes.
ACCOUNT_CODES = frozenset({2000, 3000, 3100, 3300})
ALREADY_RETRACTED = 5101
ALREADY_FINISHED = 5102
AUTH_REQUIRED = 2000


class CyberTiplineError(Exception):
    """A call to the CyberTipline API that did not succeed."""


class CyberTiplineTransportError(CyberTiplineError):
    """No usable answer: a network failure, a timeout, or a body that is not NCMEC's XML. The
    call may or may not have been carried out at NCMEC."""

    def __init__(self, call: str, message: str, *, request_id: str | None = None) -> None:
        super().__init__(f"CyberTipline {call}: {message}")
        self.call, self.request_id = call, request_id


class CyberTiplineResponseError(CyberTiplineError):
    """NCMEC answered with a non-zero ``responseCode``."""

    def __init__(
        self, code: int, description: str, http_status: int, request_id: str | None, *, call: str
    ) -> None:
        where = f"; Request-ID {request_id}" if request_id else ""
        super().__init__(
            f"CyberTipline {call}: NCMEC answered {code} ({description}), HTTP {http_status}{where}"
        )
        self.code, self.description = code, description
        self.http_status, self.request_id, self.call = http_status, request_id, call

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES

    @property
    def retryable(self) -> bool:
        """Whether a retry may succeed without changing the report."""
        return self.code in TRANSIENT_CODES or self.code in ACCOUNT_CODES


@dataclass(frozen=True)
class Answer:
    """One parsed ``reportResponse`` or ``reportDoneResponse``."""

    code: int
    description: str
    report_id: int | None
    file_id: str | None = None
    md5: str | None = None
    file_ids: list[str] = field(default_factory=list)
    request_id: str | None = None


def base_url_for(environment: str) -> str:
    """The base URL to use: ``$KAITIAKI_CYBERTIP_URL`` (a stand-in) wins, then the environment."""
    override = os.environ.get("KAITIAKI_CYBERTIP_URL", "").strip()
    if override:
        return override.rstrip("/")
    return PRODUCTION_URL if environment == "production" else TEST_URL


def _parser() -> Any:
    # No DTD, no entities, no network, no huge trees: the answer is data, never instructions.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _text(root: Any, tag: str) -> str | None:
    found = root.find(tag)
    if found is None:
        return None
    return (found.text or "").strip()


def parse_answer(body: bytes, *, call: str, http_status: int, request_id: str | None) -> Answer:
    """The answer in ``body``; ``CyberTiplineTransportError`` when it is not NCMEC's XML."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        raise CyberTiplineTransportError(
            call, f"HTTP {http_status}: the answer is not XML", request_id=request_id
        ) from None
    if root.tag not in ("reportResponse", "reportDoneResponse"):
        raise CyberTiplineTransportError(
            call,
            f"HTTP {http_status}: unexpected answer <{str(root.tag)[:40]}>",
            request_id=request_id,
        )
    raw_code, raw_report = _text(root, "responseCode"), _text(root, "reportId")
    try:
        code = int(raw_code or "")
        report_id = int(raw_report) if raw_report else None
    except ValueError:
        raise CyberTiplineTransportError(
            call, f"HTTP {http_status}: the answer's codes are not numbers", request_id=request_id
        ) from None
    files = root.find("files")
    file_ids = [] if files is None else [(e.text or "").strip() for e in files.findall("fileId")]
    return Answer(
        code=code,
        # Bounded: the description ends up in messages and the store.
        description=(_text(root, "responseDescription") or "")[:500],
        report_id=report_id,
        file_id=_text(root, "fileId") or None,
        md5=(_text(root, "hash") or "").lower() or None,
        file_ids=file_ids,
        request_id=request_id,
    )


class CyberTiplineClient:
    """One set of credentials against one base URL (NCMEC's test environment by default)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Redirects are not followed: credentials go to the configured host and nowhere else.
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(username, password),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            transport=transport,
            follow_redirects=False,
            headers={"Accept-Encoding": "identity"},
        )

    def __repr__(self) -> str:  # never the credentials
        return f"CyberTiplineClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CyberTiplineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **request: Any) -> Answer:
        call = path.lstrip("/")
        try:
            with self._http.stream(method, path, **request) as response:
                request_id = response.headers.get("Request-ID")
                body = bytearray()
                # Raw bytes, counted as they arrive: a compressed answer (asked for none)
                # cannot expand past the limit inside a decoder; it fails as not XML. (An
                # in-memory transport hands over an answer already read.)
                chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
                for chunk in chunks:
                    body += chunk
                    if len(body) > MAX_RESPONSE:
                        raise CyberTiplineTransportError(
                            call,
                            f"HTTP {response.status_code}: an answer over {MAX_RESPONSE} bytes",
                            request_id=request_id,
                        )
                status = response.status_code
        except httpx.HTTPError as exc:
            # The exception's own text can hold the URL (never credentials: they are in auth)
            # and is bounded here all the same.
            raise CyberTiplineTransportError(
                call, f"{type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        try:
            answer = parse_answer(bytes(body), call=call, http_status=status, request_id=request_id)
        except CyberTiplineTransportError:
            if status == 401:
                # Refused credentials may come back as a server's own HTML page.
                raise CyberTiplineResponseError(
                    AUTH_REQUIRED, "Authentication required", status, request_id, call=call
                ) from None
            raise
        if answer.code != 0:
            raise CyberTiplineResponseError(
                answer.code, answer.description, status, request_id, call=call
            )
        return answer

    def status(self) -> str:
        """NCMEC's "Remote User : ..., Remote Ip : ..." line: the credentials work."""
        return self._call("GET", "/status").description

    def submit(self, xml: bytes) -> int:
        """Open a report with one ``<report>`` document; NCMEC's report id."""
        answer = self._call(
            "POST", "/submit", content=xml, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        if answer.report_id is None:
            raise CyberTiplineTransportError("submit", "success without a reportId")
        return answer.report_id

    def upload(
        self, report_id: int, filename: str, content: bytes | Iterable[bytes], size: int
    ) -> tuple[str, str]:
        """Upload one file to an open report, streamed from ``content`` (bytes or an iterator of
        chunks totalling ``size`` bytes); NCMEC's file id and the MD5 of what it received."""
        boundary = uuid.uuid4().hex
        head, tail = _multipart(boundary, report_id, filename)
        body = _stream(head, content, size, tail)
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            # A known length: no chunked encoding, which some servers refuse for uploads.
            "Content-Length": str(len(head) + size + len(tail)),
        }
        answer = self._call("POST", "/upload", content=body, headers=headers)
        if not answer.file_id or not answer.md5:
            raise CyberTiplineTransportError("upload", "success without a fileId and hash")
        return answer.file_id, answer.md5

    def fileinfo(self, xml: bytes) -> None:
        """Send one ``<fileDetails>`` for an uploaded file."""
        self._call(
            "POST", "/fileinfo", content=xml, headers={"Content-Type": "text/xml; charset=utf-8"}
        )

    def finish(self, report_id: int) -> list[str]:
        """Finish a report; the file ids NCMEC holds for it."""
        return self._call("POST", "/finish", data={"id": str(report_id)}).file_ids

    def retract(self, report_id: int) -> None:
        """Cancel an open (unfinished) report."""
        self._call("POST", "/retract", data={"id": str(report_id)})


def _quoted(name: str) -> str:
    # A form-data filename is a quoted string: no quotes, backslashes or line breaks in it.
    cleaned = "".join("_" if c in '"\\\r\n' or ord(c) < 32 else c for c in name)
    return cleaned[:255] or "file"


def _multipart(boundary: str, report_id: int, filename: str) -> tuple[bytes, bytes]:
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="id"\r\n\r\n'
        f"{report_id}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{_quoted(filename)}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def _stream(
    head: bytes, content: bytes | Iterable[bytes], size: int, tail: bytes
) -> Iterator[bytes]:
    yield head
    sent = 0
    chunks: Iterable[bytes] = (
        (content[i : i + CHUNK] for i in range(0, len(content), CHUNK))
        if isinstance(content, bytes)
        else content
    )
    for chunk in chunks:
        sent += len(chunk)
        if sent > size:
            raise CyberTiplineTransportError("upload", f"the file grew past {size} bytes")
        yield chunk
    if sent != size:
        # The declared length would be wrong: stop rather than send a truncated file.
        raise CyberTiplineTransportError("upload", f"the file gave {sent} of {size} bytes")
    yield tail
