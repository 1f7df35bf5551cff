"""False-match controls over a list of hits: entries switched off, and allowlist banks.

An entry matches nothing while the flood guard holds it in quarantine (until a reviewer
releases it) or while HMA's per-content switch disables it (until its ``disabled_until``).
An allowlist bank's entries cancel matches of the same content from every other bank: those
hits are kept, marked with the allowlist that cancelled them, so that callers leave them out
of what counts as a match and can still say why (HMA's clients see no match; kaitiaki's own
reports say "suppressed by <allowlist>").

Only an enabled allowlist bank, through an entry that is itself active, cancels anything: a
switched-off allowlist must not silently hide matches.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.store.models import HashSet, HashSetEntry

# HMA's ``disable_until_ts = 0`` ("disabled, no end") is stored as this far-future instant.
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
# What ``_hits`` reads of each matched entry, in this order, to screen it (one query).
ENTRY_STATE = (
    HashSetEntry.id,
    HashSetEntry.hash_set_id,
    HashSetEntry.quarantined_at,
    HashSetEntry.disabled_until,
)


@dataclass(frozen=True, slots=True)
class BankHit:
    bank: str
    entry_id: int
    distance: int
    # A quarantined entry (flood guard) is "disabled content" in HMA's terms.
    quarantined: bool
    # Disabled by HMA's per-content switch until a time still to come.
    disabled: bool = False
    # The hit is on an allowlist bank's entry (never itself a match).
    allowlist: bool = False
    # The allowlist bank whose entry cancelled this hit, if one did.
    suppressed_by: str | None = None

    @property
    def counts(self) -> bool:
        """Whether this hit is a match a client acts on."""
        return not (self.quarantined or self.disabled or self.allowlist or self.suppressed_by)


class BankLike(Protocol):
    """What screening needs of a bank: a stored ``HashSet`` or a server's ``BankState``."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def allowlist(self) -> bool: ...


class _Screened(Protocol):
    @property
    def allowlist(self) -> bool: ...


H = TypeVar("H", bound=_Screened)


def aware(value: datetime | None) -> datetime | None:
    """``value`` with its zone: SQLite hands back UTC instants without one."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def is_disabled(disabled_until: datetime | None, now: datetime | None = None) -> bool:
    until = aware(disabled_until)
    return until is not None and until > (now or datetime.now(UTC))


def is_active(entry: HashSetEntry, now: datetime | None = None) -> bool:
    """Whether ``entry`` may match now: not quarantined, not disabled."""
    return entry.quarantined_at is None and not is_disabled(entry.disabled_until, now)


def suppress(
    hits: Sequence[H], name_of: Callable[[H], str], cancels: Callable[[H], bool]
) -> list[H]:
    """The hits of one piece of content, best first, with every hit not on an allowlist
    marked ``suppressed_by`` the best hit that ``cancels`` (an active allowlist hit)."""
    by = next((name_of(h) for h in hits if h.allowlist and cancels(h)), None)
    if by is None:
        return list(hits)
    return [h if h.allowlist else replace(h, suppressed_by=by) for h in hits]  # type: ignore[type-var]


def bank_hits(
    rows: Sequence[BankLike], found: dict[int, int], entries: Sequence[Any]
) -> list[BankHit]:
    """Hits of the lookup's matched ``found`` (entry id -> distance), ``entries`` being the
    ``ENTRY_STATE`` rows of those ids; best first (distance, then entry), screened."""
    sets = {r.id: r for r in rows}
    now = datetime.now(UTC)
    hits = [
        BankHit(
            sets[set_id].name,
            entry_id,
            found[entry_id],
            quarantined is not None,
            is_disabled(disabled_until, now),
            bool(sets[set_id].allowlist),
        )
        for entry_id, set_id, quarantined, disabled_until in entries
        if set_id in sets
    ]
    hits.sort(key=lambda h: (h.distance, h.entry_id))
    enabled = {r.name for r in rows if r.enabled}
    return suppress(
        hits,
        lambda h: h.bank,
        lambda h: h.bank in enabled and not (h.quarantined or h.disabled),
    )


def with_allowlists(
    session: Session, rows: Sequence[HashSet], banks: Collection[str] | None
) -> list[HashSet]:
    """``rows`` and every enabled allowlist bank: an allowlist cancels matches from the
    banks a caller names even when it is not one of them. Without ``banks`` the rows hold
    every enabled bank already, so nothing is asked of the store."""
    if banks is None:
        return list(rows)
    have = {r.id for r in rows}
    extra = session.scalars(
        select(HashSet).where(HashSet.allowlist, HashSet.enabled, HashSet.id.not_in(have))
    )
    return [*rows, *extra]
