"""Uploads streamed straight into a file under the work root, bounded as they arrive.

FastAPI's ``UploadFile`` has Starlette parse the whole multipart body before the route runs,
spooling each file into the system's temporary folder (often a RAM-backed tmpfs) from where the
route would copy it again. Here the route reads the body itself: ``python-multipart`` (the
parser Starlette uses) splits the stream, the file part's bytes go into
``<work root>/uploads/<random>.upload`` chunk by chunk, and the upload stops at ``limit``
bytes. ``BodyLimit`` (``web/security.py``) gives routes marked with ``accepts_upload`` the
upload cap instead of the 1 MiB one, and has already refused anonymous senders.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

UPLOAD_MARK = "__kaitiaki_upload__"
# Form fields beside the file are short (a name, a format): a bound on their count and size.
MAX_FIELDS = 20
MAX_FIELD_BYTES = 64 * 1024

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def accepts_upload(endpoint: Endpoint) -> Endpoint:
    """Mark a route whose body is an upload: it gets ``max_upload`` rather than ``max_body``."""
    setattr(endpoint, UPLOAD_MARK, True)
    return endpoint


def is_upload_endpoint(endpoint: object) -> bool:
    return bool(getattr(endpoint, UPLOAD_MARK, False))


# The request body's documentation for OpenAPI (the route reads the body itself).
def upload_body(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}, **fields},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema}},
        }
    }


class UploadError(ValueError):
    """An upload refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    path: Path
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)
    # The form field the file came in (HMA's hashing names it after the content type).
    file_field: str = ""


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    is_file: bool = False
    data: bytearray = field(default_factory=bytearray)


class _Receiver:
    """python-multipart's callbacks: fields kept in memory (bounded), the one file part's bytes
    queued for writing after each chunk is parsed."""

    def __init__(self, file_field: str | tuple[str, ...], limit: int) -> None:
        self.file_fields = (file_field,) if isinstance(file_field, str) else file_field
        self.file_field = self.file_fields[0]
        self.limit = limit
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size = 0
        self.pending: list[bytes] = []
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._part = _Part()

    def _header_end(self) -> None:
        self._part.headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._part.headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise UploadError(400, "a form part has no name")
        self._part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            if self._part.name not in self.file_fields or self.filename is not None:
                raise UploadError(400, f"send exactly one file, in the field {self.file_field!r}")
            self.file_field = self._part.name
            self._part.is_file = True
            self.filename = options[b"filename"].decode("utf-8", "replace")
        elif len(self.fields) >= MAX_FIELDS:
            raise UploadError(400, f"more than {MAX_FIELDS} form fields")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._part.is_file:
            self.size += end - start
            if self.size > self.limit:
                raise UploadError(413, f"upload larger than {self.limit} bytes")
            self.pending.append(data[start:end])
        else:
            self._part.data.extend(data[start:end])
            if len(self._part.data) > MAX_FIELD_BYTES:
                raise UploadError(400, f"form field {self._part.name!r} is too long")

    def _end(self) -> None:
        if not self._part.is_file:
            self.fields[self._part.name] = self._part.data.decode("utf-8", "replace")


def _write(out: BinaryIO, pieces: list[bytes]) -> None:
    for piece in pieces:
        out.write(piece)


async def receive_upload(
    request: Request, directory: Path, limit: int, *, file_field: str | tuple[str, ...] = "file"
) -> Upload:
    """Stream the multipart body's file into a new file in ``directory``; the client's file
    name is never used as a path (it could hold ``../``). Raises ``UploadError``. Several
    ``file_field`` names let the file come in any one of them (``Upload.file_field`` says which)."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, "send the file as multipart/form-data")
    receiver = _Receiver(file_field, limit)
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())  # type: ignore[arg-type]
    await run_in_threadpool(directory.mkdir, parents=True, exist_ok=True)
    target = directory / f"{uuid.uuid4().hex}.upload"
    out = await run_in_threadpool(target.open, "wb")
    try:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                if receiver.pending:
                    pieces, receiver.pending = receiver.pending, []
                    await run_in_threadpool(_write, out, pieces)
            parser.finalize()
        except MultipartParseError as exc:
            raise UploadError(400, f"malformed multipart body ({exc})") from None
        except RuntimeError:
            # Starlette's "Stream consumed": the CSRF check parsed the form, because the token
            # came as a form field; an upload must carry it in the header instead.
            raise UploadError(400, "send the CSRF token in the X-CSRF-Token header") from None
        finally:
            await run_in_threadpool(out.close)
        if receiver.filename is None:
            raise UploadError(422, f"no file in the field {receiver.file_field!r}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return Upload(target, receiver.filename, receiver.size, receiver.fields, receiver.file_field)
