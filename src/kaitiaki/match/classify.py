"""From a file's hits to what it is: known, ignorable, new, or error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from kaitiaki.match.matcher import MatchHit


class Label(StrEnum):
    KNOWN = "known"
    IGNORABLE = "ignorable"
    NEW = "new"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Classified:
    label: Label
    best: MatchHit | None


def classify(hits: Sequence[MatchHit], error: str | None) -> Classified:
    """The best pertinent hit makes a file known; only non-pertinent hits make it ignorable.

    A file that meets both a pertinent and a non-pertinent entry is known: an ignorable verdict
    must never hide material that a set lists as pertinent. Hits are already sorted best first.
    """
    pertinent = [h for h in hits if not h.ignorable]
    if pertinent:
        return Classified(Label.KNOWN, pertinent[0])
    if hits:
        return Classified(Label.IGNORABLE, hits[0])
    if error:
        return Classified(Label.ERROR, None)
    return Classified(Label.NEW, None)
