"""Victim-identification records: series, victims and offenders, and their statistics (the
links from hash-set entries and files to a series are in ``links``).

People are recorded by pseudonymous id only, never a name and never an image. Every change
writes an audit entry in the same transaction. A series' ``identified`` flag means every victim
it shows is identified: when a series has victim records, adding or updating one of them sets
the flag from them (all identified, or not); a specialist can also set it directly.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pycountry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Offender,
    Series,
    SeriesLink,
    Victim,
)

_PSEUDONYM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,39}")
MAX_NAME = 200
MAX_AGE_BAND = 20
MAX_AGENCY = 200


class VictimIdError(ValueError):
    """A record that cannot be written: unknown series, duplicate id, invalid field."""


class VictimIdNotFoundError(VictimIdError):
    """No series, victim or offender by that name or id."""


class VictimIdExistsError(VictimIdError):
    """A series, victim or offender by that name or id already exists."""


@dataclass(frozen=True, slots=True)
class SeriesView:
    name: str
    description: str
    identified: bool
    victims: int
    victims_identified: int
    offenders: int
    offenders_identified: int
    linked_entries: int
    linked_files: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Statistics:
    series: int
    series_identified: int
    victims: int
    victims_identified: int
    offenders: int
    offenders_identified: int
    linked_entries: int
    linked_files: int
    victims_by_country: dict[str, int] = field(default_factory=dict)


def now() -> datetime:
    return datetime.now(UTC)


def find_series(session: Session, name: str) -> Series:
    found = session.scalar(select(Series).where(Series.name == name))
    if found is None:
        raise VictimIdNotFoundError(f"no series named {name!r}")
    return found


def _pseudonym(value: str, what: str) -> str:
    text = value.strip()
    if not _PSEUDONYM.fullmatch(text):
        raise VictimIdError(
            f"{what} id {value!r}: use a pseudonymous id of letters, digits and . _ : - "
            "(at most 40 characters), never a name"
        )
    return text


def _country(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise VictimIdError(f"country {value!r} is not an ISO 3166-1 alpha-2 code")
    return code


def _bounded(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if len(text) > limit:
        raise VictimIdError(f"{what} is longer than {limit} characters")
    return text or None


def audit_change(
    session: Session, by: str, action: str, target: str, reason: str = "", **details: Any
) -> None:
    record(
        session,
        actor=by,
        action=action,
        target_type=action.split(".")[0],
        target_id=target,
        reason=reason,
        details=details,
    )


# --- series ----------------------------------------------------------------------------------


def add_series(
    store: Store,
    name: str,
    *,
    description: str = "",
    identified: bool = False,
    by: str,
) -> Series:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise VictimIdError(f"a series needs a name of 1-{MAX_NAME} characters")
    with store.session() as session:
        if session.scalar(select(Series.id).where(Series.name == name)) is not None:
            raise VictimIdExistsError(f"series {name!r} already exists")
        row = Series(name=name, description=description, identified=identified)
        session.add(row)
        session.flush()
        audit_change(session, by, "series.created", name, identified=identified)
        return row


def update_series(
    store: Store,
    name: str,
    *,
    description: str | None = None,
    identified: bool | None = None,
    by: str,
    reason: str = "",
) -> Series:
    with store.session() as session:
        row = find_series(session, name)
        changes: dict[str, Any] = {}
        if description is not None and description != row.description:
            changes["description"] = description
            row.description = description
        if identified is not None and identified != row.identified:
            changes["identified"] = identified
            row.identified = identified
        if changes:
            row.updated_at = now()
            audit_change(session, by, "series.updated", name, reason=reason, **changes)
        return row


def _view(session: Session, row: Series) -> SeriesView:
    def count(query: Any) -> int:
        return int(session.scalar(query) or 0)

    victims = select(func.count()).select_from(Victim).where(Victim.series_id == row.id)
    offenders = select(func.count()).select_from(Offender).where(Offender.series_id == row.id)
    links = select(func.count()).select_from(SeriesLink).where(SeriesLink.series_id == row.id)
    return SeriesView(
        name=row.name,
        description=row.description,
        identified=row.identified,
        victims=count(victims),
        victims_identified=count(victims.where(Victim.identified)),
        offenders=count(offenders),
        offenders_identified=count(offenders.where(Offender.identified)),
        linked_entries=count(links.where(SeriesLink.entry_id.is_not(None))),
        linked_files=count(links.where(SeriesLink.sha256.is_not(None))),
        updated_at=row.updated_at,
    )


def get_series(store: Store, name: str) -> SeriesView:
    with store.session() as session:
        return _view(session, find_series(session, name))


def list_series(store: Store) -> list[SeriesView]:
    with store.session() as session:
        rows = session.scalars(select(Series).order_by(Series.identified, Series.name))
        return [_view(session, row) for row in rows]


def series_victims(store: Store, name: str) -> tuple[list[Victim], list[Offender]]:
    with store.session() as session:
        row = find_series(session, name)
        victims = list(session.scalars(select(Victim).where(Victim.series_id == row.id)))
        offenders = list(session.scalars(select(Offender).where(Offender.series_id == row.id)))
        return victims, offenders


# --- victims and offenders -------------------------------------------------------------------


def _follow_victims(session: Session, series: Series, by: str) -> None:
    """Set the series' flag from its victim records, when it has any."""
    flags = list(session.scalars(select(Victim.identified).where(Victim.series_id == series.id)))
    if flags and all(flags) != series.identified:
        series.identified = all(flags)
        series.updated_at = now()
        audit_change(
            session,
            by,
            "series.updated",
            series.name,
            identified=series.identified,
            reason="follows its victim records",
        )


def add_victim(
    store: Store,
    victim_id: str,
    *,
    series: str | None = None,
    age_band: str | None = None,
    identified: bool = False,
    country: str | None = None,
    agency: str | None = None,
    notes: str = "",
    by: str,
) -> Victim:
    vid = _pseudonym(victim_id, "victim")
    with store.session() as session:
        if session.get(Victim, vid) is not None:
            raise VictimIdExistsError(f"victim {vid!r} already exists")
        parent = find_series(session, series) if series else None
        row = Victim(
            id=vid,
            series_id=parent.id if parent else None,
            age_band=_bounded(age_band, "age band", MAX_AGE_BAND),
            identified=identified,
            country=_country(country),
            agency=_bounded(agency, "agency", MAX_AGENCY),
            notes=notes,
        )
        session.add(row)
        session.flush()
        audit_change(session, by, "victim.created", vid, series=series, identified=identified)
        if parent is not None:
            _follow_victims(session, parent, by)
        return row


def update_victim(
    store: Store,
    victim_id: str,
    *,
    identified: bool | None = None,
    country: str | None = None,
    agency: str | None = None,
    age_band: str | None = None,
    by: str,
    reason: str = "",
) -> Victim:
    with store.session() as session:
        row = session.get(Victim, victim_id.strip())
        if row is None:
            raise VictimIdNotFoundError(f"no victim {victim_id!r}")
        changes: dict[str, Any] = {}
        if identified is not None and identified != row.identified:
            row.identified = changes["identified"] = identified
        if country is not None:
            row.country = changes["country"] = _country(country)
        if agency is not None:
            row.agency = changes["agency"] = _bounded(agency, "agency", MAX_AGENCY)
        if age_band is not None:
            row.age_band = changes["age_band"] = _bounded(age_band, "age band", MAX_AGE_BAND)
        if changes:
            audit_change(session, by, "victim.updated", row.id, reason=reason, **changes)
            parent = session.get(Series, row.series_id) if row.series_id else None
            if parent is not None:
                _follow_victims(session, parent, by)
        return row


def add_offender(
    store: Store,
    offender_id: str,
    *,
    series: str | None = None,
    identified: bool = False,
    country: str | None = None,
    agency: str | None = None,
    notes: str = "",
    by: str,
) -> Offender:
    oid = _pseudonym(offender_id, "offender")
    with store.session() as session:
        if session.get(Offender, oid) is not None:
            raise VictimIdExistsError(f"offender {oid!r} already exists")
        parent = find_series(session, series) if series else None
        row = Offender(
            id=oid,
            series_id=parent.id if parent else None,
            identified=identified,
            country=_country(country),
            agency=_bounded(agency, "agency", MAX_AGENCY),
            notes=notes,
        )
        session.add(row)
        session.flush()
        audit_change(session, by, "offender.created", oid, series=series, identified=identified)
        return row


def update_offender(
    store: Store, offender_id: str, *, identified: bool, by: str, reason: str = ""
) -> Offender:
    with store.session() as session:
        row = session.get(Offender, offender_id.strip())
        if row is None:
            raise VictimIdNotFoundError(f"no offender {offender_id!r}")
        if row.identified != identified:
            row.identified = identified
            audit_change(
                session, by, "offender.updated", row.id, reason=reason, identified=identified
            )
        return row


# --- statistics ------------------------------------------------------------------------------


def statistics(store: Store) -> Statistics:
    with store.session() as session:

        def count(model: Any, *where: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        countries = Counter[str]()
        for country, n in session.execute(
            select(Victim.country, func.count()).group_by(Victim.country)
        ):
            countries[country or "unknown"] += int(n)
        return Statistics(
            series=count(Series),
            series_identified=count(Series, Series.identified),
            victims=count(Victim),
            victims_identified=count(Victim, Victim.identified),
            offenders=count(Offender),
            offenders_identified=count(Offender, Offender.identified),
            linked_entries=count(SeriesLink, SeriesLink.entry_id.is_not(None)),
            linked_files=count(SeriesLink, SeriesLink.sha256.is_not(None)),
            victims_by_country=dict(sorted(countries.items())),
        )
