"""A vPDQ signal against the hash sets: the video branch of ``match.lookup``'s lookups.

The query is HMA's vpdq string (``signals.vpdq_hma``); each entry holding frames
(``hash_set_entries.vpdq``) is compared with kaitiaki's vPDQ matching (``match.videos``, the
rule scans use, which is the vPDQ reference's and HMA's: 80% of the query's unique frames of
quality >= 50 within 31 bits of the entry's). Entries are compared one by one: banks hold far
fewer videos than photos, and a bank of videos too large for that needs a frame index first.
HMA reports a video match's distance as ``"<query %>%[<entry %>%]"``; ``VideoHit`` keeps that.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields

from sqlalchemy import select

from kaitiaki.match.controls import ENTRY_STATE, BankHit, bank_hits, with_allowlists
from kaitiaki.match.lookup import SignalInputError
from kaitiaki.match.videos import FRAME_DISTANCE, distances, match_videos, unique_frames
from kaitiaki.signals.vpdq_hma import frames_from_signal
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry


@dataclass(frozen=True, slots=True)
class VideoHit(BankHit):
    # HMA's VPDQSimilarityInfo: shares of query and entry frames matched, in percent.
    query_match_percent: float = 0.0
    compared_match_percent: float = 0.0

    def pretty(self) -> str:
        """HMA's ``pretty_str()`` of the similarity, e.g. ``100%[80%]``."""
        return f"{self.query_match_percent:.0f}%[{self.compared_match_percent:.0f}%]"


def parse_vpdq(signal: str) -> list[list[object]]:
    try:
        return frames_from_signal(signal)
    except ValueError as exc:
        raise SignalInputError(f"invalid signal: {exc}") from None


def lookup_vpdq(
    store: Store,
    signal: str,
    *,
    banks: Collection[str] | None = None,
    include_disabled: bool = False,
) -> list[BankHit]:
    """Entries whose video matches ``signal``, screened by the false-match controls as PDQ
    hits are (``match.controls``); best first (mean frame distance, then entry id)."""
    query = unique_frames(parse_vpdq(signal))
    if len(query) == 0:
        return []  # no frame of usable quality: matches nothing, as in HMA
    chosen = select(HashSet)
    if not include_disabled:
        chosen = chosen.where(HashSet.enabled)
    if banks is not None:
        chosen = chosen.where(HashSet.name.in_(list(banks)))
    with store.session() as session:
        rows = with_allowlists(session, list(session.scalars(chosen)), banks)
        if not rows:
            return []
        found: dict[int, int] = {}
        shares: dict[int, tuple[float, float]] = {}
        states = []
        entries = session.execute(
            select(*ENTRY_STATE, HashSetEntry.vpdq)
            .where(HashSetEntry.hash_set_id.in_([r.id for r in rows]))
            .where(HashSetEntry.vpdq.is_not(None))
            .execution_options(yield_per=1000)
        )
        for *state, frames in entries:
            matched = match_videos(query, unique_frames(frames))
            if matched is None:
                continue
            found[state[0]] = matched.distance
            shares[state[0]] = (matched.query_share * 100, matched.entry_share * 100)
            states.append(tuple(state))
    return [
        VideoHit(
            **{f.name: getattr(hit, f.name) for f in fields(hit)},
            query_match_percent=round(shares[hit.entry_id][0], 2),
            compared_match_percent=round(shares[hit.entry_id][1], 2),
        )
        for hit in bank_hits(rows, found, states)
    ]


def compare_vpdq(left: str, right: str) -> tuple[bool, dict[str, float]]:
    """HMA's ``/m/compare`` of two vpdq signals: whether they match, and the shares of each
    one's unique usable frames that found a frame of the other (shown whether or not)."""
    a, b = unique_frames(parse_vpdq(left)), unique_frames(parse_vpdq(right))
    if len(a) == 0 or len(b) == 0:
        return False, {"query_match_percent": 0.0, "compared_match_percent": 0.0}
    close = distances(a, b) <= FRAME_DISTANCE
    shares = {
        "query_match_percent": round(float(close.any(axis=1).mean()) * 100, 2),
        "compared_match_percent": round(float(close.any(axis=0).mean()) * 100, 2),
    }
    return match_videos(a, b) is not None, shares
