"""HMA's per-content switch, ``disable_until_ts``, over kaitiaki's ``disabled_until``.

HMA's values (threatexchange's ``BankContentConfig``): 0 disabled for good, 1 enabled, any other
a Unix time before which the content matches nothing. kaitiaki stores the instant itself (0 as a
far-future one), so a set time is handed back as it was given. An entry the flood guard holds
in quarantine is disabled content to HMA's clients too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException

from kaitiaki.match.controls import FOREVER, aware
from kaitiaki.store.models import HashSetEntry

ENABLED_TS = 1
DISABLED_TS = 0
# HMA refuses a time more than five years ahead (curation.five_years_from_now).
MOST_AHEAD = timedelta(days=365 * 5)


def disable_until_ts(entry: HashSetEntry) -> int:
    until = aware(entry.disabled_until)
    if entry.quarantined_at is not None or (until is not None and until >= FOREVER):
        return DISABLED_TS
    return ENABLED_TS if until is None else int(until.timestamp())


def disabled_until(value: Any) -> datetime | None:
    """The ``disabled_until`` for HMA's ``disable_until_ts`` (an integer, or its text, as HMA's
    ``str_to_type`` takes it); 400 for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise HTTPException(400, f"Invalid int: '{value}'")
    try:
        ts = int(value)
    except ValueError:
        raise HTTPException(400, f"Invalid int: '{value}'") from None
    if ts < 0:
        raise HTTPException(400, "disable_until_ts must be a non-negative integer")
    now = datetime.now(UTC)
    if ts > (now + MOST_AHEAD).timestamp():
        raise HTTPException(400, "disable_until_ts must be less than 5 years in the future")
    if ts == DISABLED_TS:
        return FOREVER
    return None if ts == ENABLED_TS else datetime.fromtimestamp(ts, UTC)
