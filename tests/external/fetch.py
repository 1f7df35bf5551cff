"""Fixtures published by other projects, fetched once, checked and cached for the tests.

``external_file("dissect-ntfs", "tests/_data/ntfs.bin.gz")`` is the path of that file inside
the source named in ``sources.toml``, downloaded on first use, its SHA-256 checked, unpacked
under the cache (``KAITIAKI_FIXTURE_CACHE``, else ``.cache/external-fixtures`` in the
repository) and never modified afterwards. ``.gz``/``.uu`` members can be had decoded
(``decoded_file``). A source that cannot be fetched is a missing test tool: the test skips on a
developer's machine and fails in CI (``nothing_skips.require``).

Run as a script it fetches every source ahead of the tests (``make test`` does).
"""

from __future__ import annotations

import binascii
import fcntl
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SOURCES = tomllib.loads((HERE / "sources.toml").read_text(encoding="utf-8"))["sources"]
CACHE = Path(os.environ.get("KAITIAKI_FIXTURE_CACHE", REPO / ".cache" / "external-fixtures"))


class FixtureUnavailableError(RuntimeError):
    """A source could not be downloaded or did not match its recorded digest."""


def source_root(name: str) -> Path:
    """The unpacked folder of source ``name``, fetched on first use (safe across processes)."""
    spec = SOURCES[name]
    root = CACHE / name
    if (root / ".complete").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE / f".{name}.lock"):
        if not (root / ".complete").exists():
            _fetch(name, spec, root)
    return root


def external_file(name: str, member: str) -> Path:
    """The path of ``member`` inside source ``name`` (read-only use: never write to it)."""
    path = source_root(name) / member
    if not path.is_file():
        raise FixtureUnavailableError(f"{name} has no file {member}")
    return path


def decoded_file(name: str, member: str) -> Path:
    """``member`` with its transport encoding removed: ``x.gz`` -> x, ``x.uu`` -> x (libarchive's
    uuencoded test files), ``x.Z.uu`` -> x.Z. Decoded once, beside the cache's copy."""
    source = external_file(name, member)
    if member.endswith(".gz"):
        target, decode = source.with_suffix(""), _gunzip
    elif member.endswith(".uu"):
        target, decode = source.with_suffix(""), _uudecode
    else:
        return source
    if not target.exists():
        with _locked(source.parent / f".{source.name}.lock"):
            if not target.exists():
                partial = target.with_name(target.name + ".part")
                partial.write_bytes(decode(source.read_bytes()))
                partial.replace(target)
    return target


def _fetch(name: str, spec: dict[str, str], root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        download = Path(work) / "download"
        if spec["kind"] == "archive":
            _download(spec["url"], download)
            digest = hashlib.sha256(download.read_bytes()).hexdigest()
            if digest != spec["sha256"]:
                expected = spec["sha256"]
                raise FixtureUnavailableError(f"{name}: SHA-256 {digest}, expected {expected}")
            unpacked = Path(work) / "unpacked"
            with tarfile.open(download) as archive:
                archive.extractall(unpacked, filter="data")
            tops = list(unpacked.iterdir())
            top = tops[0] if len(tops) == 1 and tops[0].is_dir() else unpacked
        elif spec["kind"] == "deb":
            top = Path(work) / "unpacked"
            _debian_package(spec["package"], Path(work), top)
        else:
            raise FixtureUnavailableError(f"{name}: unknown kind {spec['kind']!r}")
        (top / ".complete").write_text(spec.get("sha256", spec.get("package", "")) + "\n")
        shutil.move(str(top), root)


def _download(url: str, target: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=120) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as exc:
        raise FixtureUnavailableError(f"download failed: {url}: {exc}") from exc


def _debian_package(package: str, work: Path, target: Path) -> None:
    try:
        subprocess.run(["apt-get", "download", package], cwd=work, check=True, capture_output=True)
        (deb,) = work.glob(f"{package}_*.deb")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True, capture_output=True)
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        raise FixtureUnavailableError(f"Debian package {package} not fetched: {exc}") from exc


def _gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)


def _uudecode(data: bytes) -> bytes:
    """libarchive's test files: ``begin MODE NAME`` ... ``end``, standard uuencoding."""
    out = bytearray()
    lines = iter(data.splitlines())
    for line in lines:
        if line.startswith(b"begin "):
            break
    for line in lines:
        if line.strip() in (b"end", b"`", b""):
            if line.strip() == b"end":
                break
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders leave bits past a line's stated length: keep what it states (the
            # standard library's uu module did the same).
            count = (line[0] - 32) & 63
            out += binascii.a2b_uu(line[: (count * 4 + 5) // 3])
    return bytes(out)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> int:
    failed = 0
    for name in SOURCES:
        try:
            root = source_root(name)
        except FixtureUnavailableError as exc:
            print(f"external fixtures: {name}: {exc}", file=sys.stderr)
            failed += 1
        else:
            print(f"external fixtures: {name}: {root}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
