"""A local stand-in for NCMEC's CyberTipline Reporting API, for tests and demonstrations.

It answers the documented calls (/status, /xsd, /submit, /upload, /fileinfo, /finish,
/retract) with the documented XML shapes and codes, behind basic authentication. Like NCMEC's
server it validates every ``<report>`` and ``<fileDetails>`` against the XSD (4110 malformed,
4100 invalid), keeps the order rules (5001 unknown report, 5002 unknown file, 5101 after a
retract, 5102 after a finish, file details once per file) and answers an upload with the MD5 of
what arrived. What it received stays inspectable (``reports``, ``files``, ``calls``), and it
can be told to fail: answer a code instead of doing the call, or carry the call out and then
drop the connection, so a client sees no answer although the server acted (a crash after send).

The XSD is the packaged copy, read directly: the stand-in checks documents independently of
the code under test.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files as resources
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

XSD = ("xsd", "cybertipline-report.xsd")
MAX_DOCUMENT = 8 << 20
DESCRIPTIONS = {
    0: "Success",
    1000: "Server error",
    2000: "Authentication required",
    4000: "Invalid request",
    4100: "Validation failed",
    4110: "Malformed XML submittal",
    4200: "Malformed file submittal",
    5001: "Report does not exist",
    5002: "File does not exist",
    5101: "Report already retracted",
    5102: "Report already finished",
}


@cache
def _schema() -> Any:
    data = resources("kaitiaki.cybertip").joinpath(*XSD).read_bytes()
    return etree.XMLSchema(etree.fromstring(data))


@dataclass
class ReceivedFile:
    file_id: str
    report_id: int
    filename: str
    size: int
    md5: str
    details: bytes | None = None


@dataclass
class ReceivedReport:
    report_id: int
    document: bytes
    state: str = "open"  # open, finished, retracted
    file_ids: list[str] = field(default_factory=list)


@dataclass
class Fault:
    """What to do to the next ``call``: answer ``code`` without doing it, or (``drop``) do it
    and then cut the connection before the answer is complete."""

    call: str
    code: int | None = None
    drop: bool = False


class _AnswerError(Exception):
    def __init__(self, code: int, description: str = "") -> None:
        super().__init__(code)
        self.code, self.description = code, description or DESCRIPTIONS.get(code, "Error")


class _Dropped(Response):
    """Starts the answer, then fails: the server closes the connection mid-response."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise ConnectionAbortedError("stand-in: connection dropped as the fault plan asked")


class StandIn:
    """One stand-in server's state and its ASGI ``app``. Thread-safe: tests read what it
    received while uvicorn serves it from another thread."""

    def __init__(self, username: str, password: str, *, first_report_id: int = 4564654) -> None:
        self._username, self._password = username.encode(), password.encode()
        self._ids = itertools.count(first_report_id)
        self._lock = threading.Lock()
        self.reports: dict[int, ReceivedReport] = {}
        self.files: dict[str, ReceivedFile] = {}
        # (call, responseCode) in order; a dropped call is logged with its outcome.
        self.calls: list[tuple[str, int]] = []
        self.faults: list[Fault] = []
        routes = [
            Route(
                f"/{name}",
                self._endpoint,
                methods=["GET"] if name in ("status", "xsd") else ["POST"],
            )
            for name in ("status", "xsd", "submit", "upload", "fileinfo", "finish", "retract")
        ]
        self.app = Starlette(routes=routes)

    # -- test controls ----------------------------------------------------------------------
    def fail_next(self, call: str, code: int | None = None, *, drop: bool = False) -> None:
        """Queue a fault for the next ``call`` (e.g. ``"upload"``, 1000; ``"finish"``, drop)."""
        with self._lock:
            self.faults.append(Fault(call, code, drop))

    def count(self, call: str, code: int | None = 0) -> int:
        """How many ``call`` requests were answered with ``code`` (None: with any)."""
        with self._lock:
            return sum(1 for c, got in self.calls if c == call and (code is None or got == code))

    def _fault(self, call: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.call == call:
                    return self.faults.pop(i)
        return None

    # -- serving ----------------------------------------------------------------------------
    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        # Both compared whatever the first gives: no timing hint of which one was wrong.
        same_user = hmac.compare_digest(user, self._username)
        same_password = hmac.compare_digest(password, self._password)
        return same_user and same_password

    async def _endpoint(self, request: Request) -> Response:
        call = request.url.path.rsplit("/", 1)[-1]
        headers = {"Request-ID": uuid.uuid4().hex}
        if not self._authorised(request):
            self._log(call, 2000)
            body = _response(2000, DESCRIPTIONS[2000])
            headers["WWW-Authenticate"] = 'Basic realm="CyberTipline"'
            return Response(body, 401, headers=headers, media_type="application/xml")
        if call == "xsd":
            data = resources("kaitiaki.cybertip").joinpath(*XSD).read_bytes()
            return Response(data, headers=headers, media_type="application/xml")
        fault = self._fault(call)
        if fault is not None and fault.code is not None:
            self._log(call, fault.code)
            body = _response(fault.code, DESCRIPTIONS.get(fault.code, "Error"))
            return Response(body, headers=headers, media_type="application/xml")
        try:
            body = await getattr(self, f"_{call}")(request)
            code = 0
        except _AnswerError as answer:
            body, code = _response(answer.code, answer.description), answer.code
        self._log(call, code)
        if fault is not None and fault.drop:
            return _Dropped(body, headers=headers, media_type="application/xml")
        return Response(body, headers=headers, media_type="application/xml")

    def _log(self, call: str, code: int) -> None:
        with self._lock:
            self.calls.append((call, code))

    async def _status(self, request: Request) -> bytes:
        host = request.client.host if request.client else "unknown"
        who = self._username.decode()
        return _response(0, f"Remote User : {who}, Remote Ip : {host}")

    async def _document(self, request: Request, root: str) -> tuple[bytes, Any]:
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_DOCUMENT:
                raise _AnswerError(4000, "Document too large")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            parsed = etree.fromstring(bytes(data), parser)
        except etree.XMLSyntaxError:
            raise _AnswerError(4110) from None
        if parsed.tag != root or not _schema().validate(parsed):
            raise _AnswerError(4100, "Validation failed")
        return bytes(data), parsed

    def _open(self, report_id: int) -> ReceivedReport:
        found = self.reports.get(report_id)
        if found is None:
            raise _AnswerError(5001)
        if found.state == "finished":
            raise _AnswerError(5102)
        if found.state == "retracted":
            raise _AnswerError(5101)
        return found

    async def _form_id(self, request: Request) -> tuple[int, Any]:
        form = await request.form(max_part_size=MAX_DOCUMENT)
        try:
            return int(str(form.get("id", ""))), form
        except ValueError:
            raise _AnswerError(4000, "Missing or bad report id") from None

    async def _submit(self, request: Request) -> bytes:
        data, _root = await self._document(request, "report")
        with self._lock:
            report_id = next(self._ids)
            self.reports[report_id] = ReceivedReport(report_id, data)
        return _response(0, "Success", report_id=report_id)

    async def _upload(self, request: Request) -> bytes:
        report_id, form = await self._form_id(request)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _AnswerError(4200)
        digest, size = hashlib.md5(usedforsecurity=False), 0
        while chunk := await upload.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
        with self._lock:
            report = self._open(report_id)
            file_id = uuid.uuid4().hex
            self.files[file_id] = ReceivedFile(
                file_id, report_id, upload.filename or "", size, digest.hexdigest()
            )
            report.file_ids.append(file_id)
        return _response(0, "Success", report_id=report_id, file_id=file_id, md5=digest.hexdigest())

    async def _fileinfo(self, request: Request) -> bytes:
        data, root = await self._document(request, "fileDetails")
        report_id, file_id = int(root.findtext("reportId")), root.findtext("fileId") or ""
        with self._lock:
            self._open(report_id)
            found = self.files.get(file_id.strip())
            if found is None or found.report_id != report_id:
                raise _AnswerError(5002)
            if found.details is not None:
                raise _AnswerError(4000, "File details already submitted for this file")
            found.details = data
        return _response(0, "Success", report_id=report_id)

    async def _finish(self, request: Request) -> bytes:
        report_id, _form = await self._form_id(request)
        with self._lock:
            report = self._open(report_id)
            report.state = "finished"
            ids = "".join(f"<fileId>{i}</fileId>" for i in report.file_ids)
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<reportDoneResponse>'
            f"<responseCode>0</responseCode><reportId>{report_id}</reportId>"
            f"<files>{ids}</files></reportDoneResponse>"
        ).encode()

    async def _retract(self, request: Request) -> bytes:
        report_id, _form = await self._form_id(request)
        with self._lock:
            self._open(report_id).state = "retracted"
        return _response(0, "Success", report_id=report_id)


def _response(
    code: int,
    description: str,
    *,
    report_id: int | None = None,
    file_id: str | None = None,
    md5: str | None = None,
) -> bytes:
    parts = [f"<responseCode>{code}</responseCode>"]
    parts.append(f"<responseDescription>{escape(description)}</responseDescription>")
    if report_id is not None:
        parts.append(f"<reportId>{report_id}</reportId>")
    if file_id is not None:
        parts.append(f"<fileId>{file_id}</fileId><hash>{md5}</hash>")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<reportResponse>{''.join(parts)}</reportResponse>"
    ).encode()


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a thread (port 0: any free one); its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="cybertip-stand-in", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the stand-in server did not start")
            thread.join(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
