"""From a file's hits to what it is: known, ignorable, suppressed, new, or error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from kaitiaki.match.matcher import MatchHit


class Label(StrEnum):
    KNOWN = "known"
    IGNORABLE = "ignorable"
    # Matched by a set, but an allowlist set lists it too: cancelled, the allowlist named.
    SUPPRESSED = "suppressed"
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

    An allowlist entry's hit cancels the others: the file is suppressed, its best hit being the
    allowlist's (so the classification names the allowlist); with nothing to cancel it is
    ignorable (known, not material).
    """
    allowed = [h for h in hits if h.allowlist]
    if allowed:
        cancelled = any(not h.allowlist for h in hits)
        return Classified(Label.SUPPRESSED if cancelled else Label.IGNORABLE, allowed[0])
    pertinent = [h for h in hits if not h.ignorable]
    if pertinent:
        return Classified(Label.KNOWN, pertinent[0])
    if hits:
        return Classified(Label.IGNORABLE, hits[0])
    if error:
        return Classified(Label.ERROR, None)
    return Classified(Label.NEW, None)
