"""How often an exchange is fetched: durations as people write them, defaults, the next fetch.

Network exchanges (NCMEC, StopNCII, ThreatExchange, TAT) are fetched every hour unless told
otherwise: their lists change upstream without anyone here knowing, and an hour keeps a bank
current without pressing the exchange (HMA fetches about as often). A list file and the sample
change only when someone here changes them, so they are fetched by hand unless given a schedule.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from kaitiaki.exchanges.registry import ExchangeError

HOUR = 3_600
DEFAULT_EVERY: dict[str, int | None] = {
    "local_file": None,
    "sample": None,
    "ncmec": HOUR,
    "fb_threatexchange": HOUR,
    "stop_ncii": HOUR,
    "tat": HOUR,
}
# Shorter than a minute would have a slow exchange's next fetch queued before the last ended
# and press upstream services harder than any of them asks.
MIN_EVERY = 60
MAX_EVERY = 366 * 24 * HOUR
_UNITS = {"s": 1, "m": 60, "h": HOUR, "d": 24 * HOUR, "w": 7 * 24 * HOUR}
_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_every(text: str) -> int:
    """Seconds in ``text``: ``90s``, ``15m``, ``1h``, ``1d``, ``2w`` (bare numbers: seconds)."""
    found = _DURATION.match(text)
    if found is None:
        raise ExchangeError(f"--every {text!r}: give a duration such as 15m, 1h or 1d")
    seconds = int(found.group(1)) * _UNITS[(found.group(2) or "s").lower()]
    check_every(seconds)
    return seconds


def check_every(seconds: int) -> int:
    if not MIN_EVERY <= seconds <= MAX_EVERY:
        raise ExchangeError(
            f"a schedule must be between {describe(MIN_EVERY)} and {describe(MAX_EVERY)}"
        )
    return seconds


def describe(seconds: int | None) -> str:
    """``seconds`` in the largest unit that divides it: 3600 -> "1h"; None -> "by hand"."""
    if seconds is None:
        return "by hand"
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"  # pragma: no cover - "s" divides every whole number


def aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; every one kaitiaki writes is UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def next_fetch_at(
    *, enabled: bool, every: int | None, last_started: datetime | None, created_at: datetime
) -> datetime | None:
    """When the scheduler next fetches the exchange (due now if in the past); None: never."""
    if not enabled or every is None:
        return None
    if last_started is None:
        return aware(created_at)
    return aware(last_started) + timedelta(seconds=every)
