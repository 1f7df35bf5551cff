"""The interface every signal type implements, after python-threatexchange's ``SignalType``.

A signal type is one module that says everything the rest of kaitiaki needs to know about its
hash: which content it is computed from and how, how a value from outside is parsed and
checked, how two values compare, and when a comparison is a match (its default threshold and
the quality below which a value says too little to match on). The scanner, the hash-set
readers, the matcher and the near-duplicate groups ask the signal type instead of knowing
hash names. Indexes live in ``kaitiaki.index``, one per signal type that needs one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar

from kaitiaki.content.kinds import ContentKind

_HEX = re.compile(r"[0-9a-fA-F]+")


class SignalError(Exception):
    """Content that a signal could not hash (corrupt, truncated, oversize), or a value that is
    not a valid signal of its type; the reason is kept."""


@dataclass(frozen=True, slots=True)
class Content:
    """A blob already read once: its bytes when small enough to keep, and a way to read it again."""

    kind: ContentKind
    mime: str
    size: int
    data: bytes | None
    reopen: Callable[[], BinaryIO]
    # What one signal decoded and the next may reuse (the reduced picture PDQ and the robust
    # signal both work from): a picture is decoded once per file, whatever number of signals.
    shared: dict[str, Any] = field(default_factory=dict)

    def read(self) -> bytes:
        """The whole blob, from memory when it was kept."""
        if self.data is not None:
            return self.data
        with self.reopen() as stream:
            return stream.read()


# Where a signal's hits rank among a file's hits: an exact digest is proof of identity, a
# perceptual hash within its threshold is strong evidence, the robust signal (local features
# after geometric verification) finds what the hashes cannot and is ranked after them.
TIER_EXACT = 0
TIER_HASH = 1
TIER_ROBUST = 2


class SignalType(ABC):
    """One kind of signal: computed from content, parsed from text, compared, matched."""

    name: ClassVar[str]
    # The content it is computed from; empty for digests, which the scan's single read makes.
    kinds: ClassVar[frozenset[ContentKind]] = frozenset()
    tier: ClassVar[int] = TIER_HASH
    # The default match threshold on ``compare``'s scale, and the largest a user may set.
    threshold: ClassVar[int] = 0
    max_threshold: ClassVar[int] = 0
    # ``compare`` counts agreement (more is closer) rather than distance (less is closer).
    higher_is_closer: ClassVar[bool] = False
    # Values of a lower quality are not matched (they say little: flat or tiny images).
    quality_floor: ClassVar[int | None] = None
    # Computed beside another signal of the same content (the robust signal beside PDQ): a
    # failure is noted on the file, not made its error, while the other signal stands.
    supplementary: ClassVar[bool] = False

    @property
    def exact(self) -> bool:
        return self.tier == TIER_EXACT

    def applies_to(self, kind: ContentKind) -> bool:
        return kind in self.kinds

    def compute(self, content: Content) -> dict[str, Any]:
        """The fields this signal adds to a file's record; raises ``SignalError`` when it cannot."""
        raise NotImplementedError(f"{self.name} is not computed from content")

    @abstractmethod
    def parse(self, value: str) -> str:
        """``value`` as kaitiaki stores it (normalised); ``SignalError`` saying why it is not
        a valid signal of this type."""

    @abstractmethod
    def compare(self, a: str, b: str) -> int:
        """The score of two parsed values on this type's scale (see ``higher_is_closer``)."""

    def matches(self, score: int, threshold: int | None = None) -> bool:
        """Whether ``score`` is a match at ``threshold`` (the type's default when None)."""
        limit = self.threshold if threshold is None else threshold
        return score >= limit if self.higher_is_closer else score <= limit

    def usable(self, quality: int | None) -> bool:
        """Whether a value of ``quality`` may be matched on."""
        return self.quality_floor is None or (quality or 0) >= self.quality_floor

    def rank(self, score: int) -> tuple[int, int]:
        """Sort key of a hit by this signal with ``score``: the best hit sorts first."""
        return (self.tier, -score if self.higher_is_closer else score)

    def check_threshold(self, threshold: int) -> int:
        """``threshold`` if a user may set it; ``SignalError`` naming the range otherwise."""
        if isinstance(threshold, bool) or not 0 <= threshold <= self.max_threshold:
            raise SignalError(
                f"{self.name} threshold must be 0-{self.max_threshold}, not {threshold}"
            )
        return threshold


class HexSignal(SignalType):
    """A signal written as a fixed number of hex digits (digests, PDQ)."""

    hex_length: ClassVar[int]

    def parse(self, value: str) -> str:
        text = value.strip()
        if len(text) != self.hex_length or not _HEX.fullmatch(text):
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise SignalError(f"{self.name} {shown!r} is not {self.hex_length} hex digits")
        return text.lower()
