"""Archive readers (zip, tar and its gz/bz2/xz forms, 7z): members as streams, never extracted.

INTERFACE DRAFT — to be implemented (see ``iter_members``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO


class ArchiveError(Exception):
    """The archive as a whole cannot be read (corrupt, unsupported, encrypted headers)."""


class ArchiveBombError(ArchiveError):
    """Expansion passed a limit: total expanded bytes, expansion ratio or member count."""


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_depth: int = 5
    max_total_bytes: int = 32 << 30
    max_ratio: float = 250.0
    max_members: int = 1_000_000


@dataclass
class ExpansionBudget:
    """Bytes expanded so far under one top-level archive, nested archives included."""

    limits: ArchiveLimits
    compressed_size: int
    expanded: int = 0
    members: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    name: str
    size: int | None
    open: Callable[[], BinaryIO] | None
    error: str | None = None
    note: str | None = None


def iter_members(stream: BinaryIO, mime: str, budget: ExpansionBudget) -> Iterator[ArchiveMember]:
    raise NotImplementedError
