"""Reading a referral package that arrives from another installation: hostile until verified.

A package is a folder (or a ZIP of one) as ``kaitiaki refer`` writes it: ``package.json``,
``events.csv``, the reports, and ``manifest.json`` signed by the sender. Reading it means, in
this order: unpacking a ZIP within bounds (no path outside the package, no links, bounded
count and sizes), checking every file against the signed manifest and the signature against
the trust store (``refer.trust``), then parsing ``package.json`` within bounds and checking its
schema version and JSON Schema. Only then is anything stored.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from kaitiaki.refer.package import SCHEMA_VERSION
from kaitiaki.refer.signing import MANIFEST, VerifyResult
from kaitiaki.refer.trust import TrustError, verify_received
from kaitiaki.refer.versions import SchemaVersionError, validate
from kaitiaki.store import Store

PACKAGE_JSON: Final = "package.json"
MAX_MEMBERS: Final = 10_000
MAX_UNPACKED: Final = 2 * 1024**3  # a package is records and reports: megabytes, not gigabytes
MAX_PACKAGE_JSON: Final = 256 * 1024**2
# The widths of the columns these land in (store.models): checked here so a hostile package
# gets a clear refusal rather than a database error.
_WIDTHS: Final = {"package_id": 60, "subject_id": 40, "agency": 200, "built_by": 200}


class PackageError(ValueError):
    """A package that cannot be received; the message names the file and what is wrong."""


class UnknownSenderError(PackageError):
    """Intact, but signed by a key that is not in the trust store."""

    def __init__(self, message: str, fingerprint: str) -> None:
        super().__init__(message)
        self.fingerprint = fingerprint


@dataclass(frozen=True)
class VerifiedPackage:
    """A package whose files match its signed manifest, with its checked document."""

    source: Path
    document: dict[str, Any]
    schema_version: str
    manifest_sha256: str
    sender: str  # the trust store's name; "" for an accepted unknown sender
    key_fingerprint: str  # grouped hex, as ``kaitiaki verify`` prints it
    origin_proven: bool

    @property
    def reference(self) -> str:
        return str(self.document["package_id"])

    @property
    def version(self) -> int:
        return int(self.document.get("package_version") or 1)


def _member_name(info: zipfile.ZipInfo, where: Path) -> PurePosixPath | None:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if not path.parts or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise PackageError(f"{where}: {info.filename!r} names a path outside the package")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise PackageError(f"{where}: {info.filename!r} is a link; a package holds files only")
    return None if info.is_dir() else path


def _unzip(archive: Path, into: Path) -> Path:
    """Unpack ``archive`` within bounds into ``into``; returns the package folder inside it
    (the ZIP's root, or its one top folder)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise PackageError(f"{archive}: more than {MAX_MEMBERS:,} members")
            total = 0
            for info in infos:
                path = _member_name(info, archive)
                if path is None:
                    continue
                total += info.file_size
                if total > MAX_UNPACKED:
                    raise PackageError(f"{archive}: unpacks to more than {MAX_UNPACKED:,} bytes")
                target = into.joinpath(*path.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("xb") as dst:
                    # Read within the declared size: a member that inflates past it is a lie.
                    copied = _copy_bounded(src, dst, info.file_size)
                if copied != info.file_size:
                    raise PackageError(f"{archive}: {info.filename!r} is not the size it declares")
    except FileExistsError as exc:
        raise PackageError(f"{archive}: {exc.filename!r} appears twice") from None
    except PackageError:
        raise
    # A damaged archive fails in many ways inside zipfile: a seek before the start (OSError),
    # a bad deflate stream (zlib.error), sizes that make no sense (ValueError).
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        EOFError,
        OSError,
        zlib.error,
        ValueError,
    ) as exc:
        raise PackageError(f"{archive}: not a ZIP kaitiaki can read ({exc})") from None
    except RuntimeError as exc:  # an encrypted member
        raise PackageError(f"{archive}: {exc}") from None
    tops = [p for p in into.iterdir()]
    if not (into / MANIFEST).exists() and len(tops) == 1 and tops[0].is_dir():
        return tops[0]
    return into


def _copy_bounded(src: Any, dst: Any, limit: int) -> int:
    copied = 0
    while block := src.read(min(1 << 20, limit + 1 - copied)):
        copied += len(block)
        if copied > limit:
            break
        dst.write(block)
    return copied


@contextmanager
def package_folder(path: Path) -> Iterator[Path]:
    """The package as a folder: ``path`` itself, or a ZIP unpacked into a temporary folder
    that is removed afterwards."""
    if path.is_symlink():
        raise PackageError(f"{path}: a link; give the package itself")
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise PackageError(f"{path}: no such package (a folder or a .zip)")
    if not zipfile.is_zipfile(path):
        raise PackageError(f"{path}: neither a package folder nor a ZIP of one")
    scratch = Path(tempfile.mkdtemp(prefix="kaitiaki-package-"))
    try:
        yield _unzip(path, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _read_document(folder: Path) -> dict[str, Any]:
    path = folder / PACKAGE_JSON
    with path.open("rb") as handle:
        data = handle.read(MAX_PACKAGE_JSON + 1)
    if len(data) > MAX_PACKAGE_JSON:
        raise PackageError(f"{PACKAGE_JSON}: larger than {MAX_PACKAGE_JSON:,} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise PackageError(f"{PACKAGE_JSON}: nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise PackageError(f"{PACKAGE_JSON}: not UTF-8 (byte {exc.start})") from None
    except ValueError as exc:
        raise PackageError(f"{PACKAGE_JSON}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise PackageError(f"{PACKAGE_JSON}: not a JSON object")
    return doc


def _check_widths(doc: dict[str, Any]) -> None:
    checks = [
        ("package_id", "package_id", doc.get("package_id")),
        ("built_by", "built_by", doc.get("built_by")),
        ("agency name", "agency", (doc.get("agency") or {}).get("name")),
    ]
    checks += [
        (f"subjects[{i}].subject_id", "subject_id", s.get("subject_id"))
        for i, s in enumerate(doc["subjects"])
    ]
    for where, column, value in checks:
        limit = _WIDTHS[column]
        if isinstance(value, str) and len(value) > limit:
            raise PackageError(f"{PACKAGE_JSON}: {where} is longer than {limit} characters")
    ids = [s["subject_id"] for s in doc["subjects"]]
    if len(set(ids)) != len(ids):
        raise PackageError(f"{PACKAGE_JSON}: a subject id appears twice")


def _problems(result: VerifyResult) -> str:
    lines = result.problems()
    shown = "; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5 else "")
    return shown


def read_package(store: Store, path: Path, *, accept_unknown: bool = False) -> VerifiedPackage:
    """Verify and read the package at ``path`` (folder or ZIP), or PackageError saying why.

    An intact package signed by a key not in the trust store raises UnknownSenderError unless
    ``accept_unknown`` (a person has decided, with a reason the caller records)."""
    with package_folder(path) as folder:
        try:
            result = verify_received(store, folder)
        except TrustError as exc:
            raise PackageError(f"{path}: {exc}") from None
        if not result.ok:
            raise PackageError(f"{path}: refused, not as signed: {_problems(result)}")
        if not result.origin_proven and not accept_unknown:
            raise UnknownSenderError(
                f"{path}: signed by a key not in the trust store (fingerprint "
                f"{result.key_fingerprint}); refused. Add the sender's key with `kaitiaki keys "
                "trust add` once its owner has confirmed the fingerprint, or accept this one "
                "package with --accept-unknown-sender --reason TEXT",
                result.key_fingerprint,
            )
        manifest_bytes = (folder / MANIFEST).read_bytes()  # verified above: the signed bytes
        manifest = json.loads(manifest_bytes)
        if PACKAGE_JSON not in manifest.get("files", {}):
            raise PackageError(f"{path}: the manifest does not list {PACKAGE_JSON}")
        doc = _read_document(folder)
        try:
            major_minor = validate(
                doc, "referral-package-v1.json", SCHEMA_VERSION, what=f"{path}: {PACKAGE_JSON}"
            )
        except SchemaVersionError as exc:
            raise PackageError(str(exc)) from None
        _check_widths(doc)
        digest = hashlib.sha256(manifest_bytes).hexdigest()
        return VerifiedPackage(
            source=path,
            document=doc,
            schema_version=f"{major_minor[0]}.{major_minor[1]}",
            manifest_sha256=digest,
            sender=result.sender if result.origin_proven else "",
            key_fingerprint=result.key_fingerprint,
            origin_proven=result.origin_proven,
        )
