"""Reading a file's bytes back from its evidence: to show it to a person, or to hash it again
with the reference PDQ when its hash leaves the system (``kaitiaki.exports.pdq``).

An instance path is a file on disk, or ``outer.zip!/inner/a.jpg`` for an archive member (as the
scanner names them). Members are found again by walking the same readers the scan used, under
the same bomb guards, and what comes out is checked against the stored SHA-256: a person is only
ever shown the exact content the record is about.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from kaitiaki.content.archives import ArchiveError, ArchiveLimits, ExpansionBudget, iter_members
from kaitiaki.content.kinds import HEADER_SIZE, ContentKind, detect

SEPARATOR = "!/"  # as kaitiaki.scan.hasher names archive members
# Content shown in a browser is an image or a video frame; nothing larger is read into memory.
MAX_BYTES = 512 << 20


class ContentUnavailableError(Exception):
    """The content cannot be read back; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _read_limited(stream: io.BufferedIOBase | io.RawIOBase | io.BytesIO, what: str) -> bytes:
    data = stream.read(MAX_BYTES + 1) or b""
    if len(data) > MAX_BYTES:
        raise ContentUnavailableError(
            409, f"{what} is larger than {MAX_BYTES >> 20} MiB; not shown"
        )
    return bytes(data)


def _member(data: bytes, name: str, where: str) -> bytes:
    found = detect(data[:HEADER_SIZE])
    if found.kind != ContentKind.ARCHIVE:
        raise ContentUnavailableError(409, f"{where} is not an archive kaitiaki can reopen")
    budget = ExpansionBudget(ArchiveLimits(), compressed_size=len(data))
    try:
        for member in iter_members(io.BytesIO(data), found.mime, budget):
            if member.name != name:
                continue
            if member.open is None:
                raise ContentUnavailableError(409, f"{where}{SEPARATOR}{name}: {member.error}")
            with member.open() as stream:
                return _read_limited(stream, name)  # type: ignore[arg-type]
    except ArchiveError as exc:
        raise ContentUnavailableError(409, f"{where}: cannot reopen the archive ({exc})") from None
    raise ContentUnavailableError(404, f"{where}: member {name!r} is no longer in the archive")


def read_instance(path: str, sha256: str) -> bytes:
    """The bytes of the instance at ``path``, verified against ``sha256``."""
    outer, *members = path.split(SEPARATOR)
    source = Path(outer)
    try:
        with source.open("rb") as stream:
            data = _read_limited(stream, outer)
    except FileNotFoundError:
        raise ContentUnavailableError(
            404, f"{outer}: the evidence file is not on this server"
        ) from None
    except OSError as exc:
        raise ContentUnavailableError(409, f"{outer}: unreadable ({exc.strerror})") from None
    where = outer
    for name in members:
        data = _member(data, name, where)
        where = f"{where}{SEPARATOR}{name}"
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ContentUnavailableError(
            409, f"{path}: the content no longer matches its recorded SHA-256; not shown"
        )
    return data
