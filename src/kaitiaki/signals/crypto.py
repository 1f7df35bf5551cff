"""MD5, SHA-1 and SHA-256 of a stream in one pass, and their signal types (exact matches)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from kaitiaki.signals.base import TIER_EXACT, HexSignal

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Digests:
    md5: str
    sha1: str
    sha256: str
    size: int


class DigestAccumulator:
    """Feed chunks as they are read; ``finish`` gives the three digests and the byte count."""

    __slots__ = ("_md5", "_sha1", "_sha256", "_size")

    def __init__(self) -> None:
        # MD5 and SHA-1 are required by VICS and the hash lists, not used for security.
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self._sha1.update(chunk)
        self._sha256.update(chunk)
        self._size += len(chunk)

    def finish(self) -> Digests:
        return Digests(
            self._md5.hexdigest(), self._sha1.hexdigest(), self._sha256.hexdigest(), self._size
        )


def digest_stream(stream: BinaryIO) -> Digests:
    accumulator = DigestAccumulator()
    while chunk := stream.read(CHUNK):
        accumulator.update(chunk)
    return accumulator.finish()


class _DigestSignal(HexSignal):
    """A cryptographic digest: equal or not. Computed by the scan's single read, not here."""

    tier = TIER_EXACT

    def compare(self, a: str, b: str) -> int:
        return 0 if a == b else 1


class Md5Signal(_DigestSignal):
    name = "md5"
    hex_length = 32


class Sha1Signal(_DigestSignal):
    name = "sha1"
    hex_length = 40


class Sha256Signal(_DigestSignal):
    name = "sha256"
    hex_length = 64
