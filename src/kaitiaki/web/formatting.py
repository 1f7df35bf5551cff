"""How the pages show values: yes/no, numbers with separators, times in the reader's zone.

Registered once on the pages' Jinja environment (``install``). A time is written as
``<time datetime="...Z" title="... UTC">`` in the reader's time zone: the zone comes from a
cookie that ``static/js/timezone.js`` writes from the browser's own setting (no inline script
under the CSP), and is UTC until the browser has said, or when it names no zone we know.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

TZ_COOKIE = "kaitiaki_tz"
EMPTY = "—"
# An IANA name is short; anything longer or with odd characters is not looked up at all
# (ZoneInfo would otherwise read a path the cookie names).
_TZ_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-")


def zone_named(name: str | None) -> tzinfo:
    """The IANA zone ``name`` (a cookie's value), or UTC when it is missing or unknown."""
    if not name or len(name) > 64 or not set(name) <= _TZ_CHARS or ".." in name:
        return UTC
    if name.startswith("/") or name.endswith("/"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def yesno(value: object) -> str:
    """True/False as yes/no; None (not known) as a dash."""
    if value is None:
        return EMPTY
    return "yes" if value else "no"


def number(value: object, places: int | None = None) -> str:
    """A count or size with thousands separators (``12,345``); None as a dash. A float keeps
    ``places`` decimals (two when not given and it is not whole)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return yesno(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if places is None:
            places = 0 if value.is_integer() else 2
        return f"{value:,.{places}f}"
    try:
        return f"{int(str(value)):,}"
    except ValueError:
        return str(value)


def as_utc(value: object) -> datetime | None:
    """A datetime (naive ones are UTC, as the store writes them), an ISO text or a date."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, date):
        at = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def when_in(value: object, zone: tzinfo) -> Markup | str:
    """``value`` as a ``<time>`` element in ``zone``, its UTC instant in ``datetime`` and the
    hover title; text that is not a time is shown as it is, and nothing as a dash."""
    at = as_utc(value)
    if at is None:
        return EMPTY if value is None or value == "" else str(value)
    local = at.astimezone(zone)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    shown = f"{local.strftime('%Y-%m-%d %H:%M')} {local.tzname() or 'UTC'}"
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        stamp, at.strftime("%Y-%m-%d %H:%M:%S"), shown
    )


def zone_of(context: Context) -> tzinfo:
    """The reader's zone: the page's ``tz`` if ``page`` set one, else the request's cookie."""
    zone = context.get("tz")
    if isinstance(zone, tzinfo):
        return zone
    request = context.get("request")
    cookies: Any = getattr(request, "cookies", {}) or {}
    return zone_named(cookies.get(TZ_COOKIE))


@pass_context
def when(context: Context, value: object) -> Markup | str:
    return when_in(value, zone_of(context))


def install(environment: Environment) -> None:
    environment.filters.update(yesno=yesno, number=number, when=when)
