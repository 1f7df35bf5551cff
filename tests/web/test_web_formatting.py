"""The pages' cell filters: yes/no, numbers with separators, times in the reader's zone with
the UTC instant kept in the markup; and a page rendered through them, with the zone cookie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fastapi.testclient import TestClient

from kaitiaki.users import Role
from kaitiaki.web.formatting import TZ_COOKIE, number, when_in, yesno, zone_named


def test_yes_no_and_unknown() -> None:
    assert (yesno(True), yesno(False), yesno(None)) == ("yes", "no", "—")


def test_numbers_have_thousands_separators() -> None:
    assert number(1234567) == "1,234,567"
    assert number(0) == "0"
    assert number(None) == "—"
    assert number(1234.5) == "1,234.50"
    assert number(2.0) == "2"
    assert number("98765") == "98,765"
    assert number("n/a") == "n/a"


def test_zone_names_from_a_cookie_fall_back_to_utc() -> None:
    assert str(zone_named("Pacific/Auckland")) == "Pacific/Auckland"
    for bad in (None, "", "Not/AZone", "../../etc/passwd", "/etc/localtime", "a" * 65, "UTC;x"):
        assert zone_named(bad) is UTC, bad


def test_a_time_in_the_readers_zone_keeps_utc_in_the_markup() -> None:
    at = datetime(2026, 12, 4, 10, 30, 5, tzinfo=UTC)
    shown = when_in(at, zone_named("Pacific/Auckland"))
    assert shown == (
        '<time datetime="2026-12-04T10:30:05Z" title="2026-12-04 10:30:05 UTC">'
        "2026-12-04 23:30 NZDT</time>"
    )
    # Naive datetimes are UTC (SQLite hands them back so); aware ones are converted first.
    assert "10:30 UTC</time>" in when_in(at.replace(tzinfo=None), UTC)
    plus_two = at.astimezone(timezone(timedelta(hours=2)))
    assert 'datetime="2026-12-04T10:30:05Z"' in when_in(plus_two, UTC)
    assert when_in(None, UTC) == "—"
    assert when_in("not a time", UTC) == "not a time"


def test_pages_show_times_in_the_cookies_zone(login) -> None:  # type: ignore[no-untyped-def]
    client, _ = login(Role.ADMIN)
    assert isinstance(client, TestClient)
    page = client.get("/users").text
    assert "UTC</time>" in page
    client.cookies.set(TZ_COOKIE, "Asia/Kolkata")
    page = client.get("/users").text
    assert "IST</time>" in page and 'title="' in page
    client.cookies.set(TZ_COOKIE, "../../etc/passwd")
    assert "UTC</time>" in client.get("/users").text
