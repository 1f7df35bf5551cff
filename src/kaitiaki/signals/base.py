"""The interface every perceptual signal type implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

from kaitiaki.content.kinds import ContentKind


class SignalError(Exception):
    """Content that a signal could not hash (corrupt, truncated, oversize); the reason is kept."""


@dataclass(frozen=True, slots=True)
class Content:
    """A blob already read once: its bytes when small enough to keep, and a way to read it again."""

    kind: ContentKind
    mime: str
    size: int
    data: bytes | None
    reopen: Callable[[], BinaryIO]


class SignalType(ABC):
    """A perceptual hash over one or more kinds of content."""

    name: ClassVar[str]
    kinds: ClassVar[frozenset[ContentKind]]

    def applies_to(self, kind: ContentKind) -> bool:
        return kind in self.kinds

    @abstractmethod
    def compute(self, content: Content) -> dict[str, Any]:
        """The fields this signal adds to a file's record; raises ``SignalError`` when it cannot."""
