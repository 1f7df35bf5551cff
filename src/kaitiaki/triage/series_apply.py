"""Reading another agency's series update, and applying it to our records without overwriting
a specialist's.

The rule: what we do not hold is created; an identification upgrade (not identified ->
identified, an empty country, agency, age band or series filled in) is applied; anything else
that differs from our record (identified -> not identified, another country, agency or age
band, a victim we hold under another series) is left as it is and listed as a difference for a
person to decide. Our victim-identification specialist may know something the sender does not,
and the sender's file must never silently undo their work.

A series is marked identified when the update says so, unless we hold a victim in it that is
still not identified here: a series flagged identified drops off the victim-identification work
list, and an unidentified child of ours in it must not disappear from that list unseen.

Every applied change writes its audit entry (``triage.victims.audit_change``), in the caller's
transaction, naming the update file that brought it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pycountry
from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.store.models import Offender, Series, Victim
from kaitiaki.triage.victims import audit_change, now
from kaitiaki.users.scope import parse_jurisdiction

Value = str | bool | None
Kind = Literal["series", "victim", "offender"]
# Shown when a series cannot be marked identified: the first few of our unidentified victims.
_LISTED = 10


class SeriesUpdateError(ValueError):
    """A series update that cannot be written or applied; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Applied:
    """One change made to our records: a record created, or one field upgraded."""

    record: Kind
    id: str  # the series' name, or the victim's or offender's pseudonymous id
    field: str  # "created", or the field upgraded
    value: Value  # the new value; for "created", whether the record is identified

    def as_dict(self) -> dict[str, Value]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Difference:
    """A value the update gives that was not applied because ours says otherwise."""

    record: Kind
    id: str
    field: str
    ours: Value
    theirs: Value
    note: str = ""

    def as_dict(self) -> dict[str, Value]:
        return asdict(self)


@dataclass
class _Outcome:
    applied: list[Applied] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)


def _same(ours: Value, theirs: Value) -> bool:
    """Equal, ignoring the case and spacing of text (``AFP`` typed twice is the same agency)."""
    if isinstance(ours, str) and isinstance(theirs, str):
        return " ".join(ours.split()).casefold() == " ".join(theirs.split()).casefold()
    return ours == theirs


class _Applier:
    def __init__(self, session: Session, *, by: str, reason: str, source: str) -> None:
        self.session = session
        self.by = by
        self.reason = reason
        self.source = source  # the update file's SHA-256, in every audit entry
        self.out = _Outcome()

    def audit(self, action: str, target: str, **details: Any) -> None:
        audit_change(
            self.session,
            self.by,
            action,
            target,
            reason=self.reason,
            series_update=self.source,
            **details,
        )

    def series(self, doc: dict[str, Any]) -> None:
        name: str = doc["name"]
        row = self.session.scalar(select(Series).where(Series.name == name))
        if row is None:
            # The description stays empty: an update never carries one (see the schema).
            row = Series(name=name, description="", identified=doc["identified"])
            self.session.add(row)
            self.session.flush()
            self.audit("series.created", name, identified=row.identified)
            self.out.applied.append(Applied("series", name, "created", row.identified))
        for victim in doc["victims"]:
            self.person(Victim, "victim", row, victim)
        for offender in doc["offenders"]:
            self.person(Offender, "offender", row, offender)
        self.series_flag(row, bool(doc["identified"]))

    def series_flag(self, row: Series, theirs: bool) -> None:
        if theirs == row.identified:
            return
        if not theirs:
            self.out.differences.append(Difference("series", row.name, "identified", True, False))
            return
        still_open = list(
            self.session.scalars(
                select(Victim.id)
                .where(Victim.series_id == row.id, Victim.identified.is_(False))
                .order_by(Victim.id)
                .limit(_LISTED + 1)
            )
        )
        if still_open:
            listed = ", ".join(still_open[:_LISTED]) + (
                ", ..." if len(still_open) > _LISTED else ""
            )
            self.out.differences.append(
                Difference(
                    "series",
                    row.name,
                    "identified",
                    False,
                    True,
                    note=f"not identified here: victim {listed}",
                )
            )
            return
        row.identified = True
        row.updated_at = now()
        self.audit("series.updated", row.name, identified=True)
        self.out.applied.append(Applied("series", row.name, "identified", True))

    def person(
        self,
        model: type[Victim] | type[Offender],
        kind: Literal["victim", "offender"],
        series: Series,
        doc: dict[str, Any],
    ) -> None:
        pid: str = doc["id"]
        fields = ("country", "agency", "age_band") if kind == "victim" else ("country", "agency")
        theirs: dict[str, Value] = {name: doc.get(name) for name in fields}
        row = self.session.get(Victim, pid) if kind == "victim" else self.session.get(Offender, pid)
        if row is None:
            row = model(
                id=pid, series_id=series.id, identified=doc["identified"], notes="", **theirs
            )
            self.session.add(row)
            self.session.flush()
            self.audit(f"{kind}.created", pid, series=series.name, identified=row.identified)
            self.out.applied.append(Applied(kind, pid, "created", row.identified))
            return
        upgrades: dict[str, Value] = {}
        differences: list[Difference] = []
        elsewhere = False
        if row.series_id is None:
            upgrades["series"] = series.name
        elif row.series_id != series.id:
            # The same id under another series may be another child here: nothing is applied
            # to it, every differing field is listed instead.
            held = self.session.get(Series, row.series_id)
            ours_name = held.name if held is not None else None
            differences.append(Difference(kind, pid, "series", ours_name, series.name))
            elsewhere = True
        if doc["identified"] and not row.identified:
            upgrades["identified"] = True
        elif row.identified and not doc["identified"]:
            differences.append(Difference(kind, pid, "identified", True, False))
        for name in fields:
            ours, value = getattr(row, name), theirs[name]
            if value is None or _same(ours, value):
                continue
            if ours is None:
                upgrades[name] = value
            else:
                differences.append(Difference(kind, pid, name, ours, value))
        if elsewhere:
            differences += [
                Difference(kind, pid, name, None if name != "identified" else False, value)
                for name, value in upgrades.items()
            ]
            upgrades = {}
        self.out.differences += differences
        if not upgrades:
            return
        for name, value in upgrades.items():
            if name == "series":
                row.series_id = series.id
            else:
                setattr(row, name, value)
            self.out.applied.append(Applied(kind, pid, name, value))
        self.audit(f"{kind}.updated", pid, **upgrades)


# --- reading a received update (after its JSON Schema) ------------------------------------


def _text(value: Any) -> str | None:
    """A received optional text field, trimmed; empty is absent."""
    if value is None:
        return None
    return str(value).strip() or None


def _country(value: Any, where: str) -> str | None:
    code = _text(value)
    if code is not None and pycountry.countries.get(alpha_2=code) is None:
        raise SeriesUpdateError(f"{where}: country {code!r} is not an ISO 3166-1 alpha-2 code")
    return code


def checked_series(payload: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """The update's series, with what a JSON Schema cannot say checked: no series named twice,
    no victim or offender listed twice, real country codes. Text fields come back trimmed."""
    names: set[str] = set()
    seen: dict[tuple[str, str], str] = {}
    out = []
    for i, series in enumerate(payload["series"]):
        name = series["name"].strip()
        if not name:
            raise SeriesUpdateError(f"{what}: at series/{i}/name: empty")
        if name in names:
            raise SeriesUpdateError(f"{what}: at series/{i}: series {name!r} listed twice")
        names.add(name)
        people: dict[str, list[dict[str, Any]]] = {}
        for kind in ("victims", "offenders"):
            people[kind] = []
            for j, person in enumerate(series[kind]):
                where = f"{what}: at series/{i}/{kind}/{j}"
                key = (kind, person["id"])
                if key in seen:
                    raise SeriesUpdateError(
                        f"{where}: {kind[:-1]} {person['id']!r} listed twice "
                        f"(also in series {seen[key]!r})"
                    )
                seen[key] = name
                entry = {
                    "id": person["id"],
                    "identified": person["identified"],
                    "country": _country(person.get("country"), where),
                    "agency": _text(person.get("agency")),
                }
                if kind == "victims":
                    entry["age_band"] = _text(person.get("age_band"))
                people[kind].append(entry)
        out.append({"name": name, "identified": series["identified"], **people})
    return out


def sender_agency(payload: dict[str, Any], bound: tuple[str, ...], sender: str, what: str) -> str:
    """The agency the update says it is from, which must be one the sender's key is trusted
    for when the trust store binds it to any: a partner's key cannot speak for another."""
    country, name = payload["agency"]["country"], payload["agency"]["name"].strip()
    if not name:
        raise SeriesUpdateError(f"{what}: at agency/name: empty")
    if bound and not any(parse_jurisdiction(j).covers(country, name) for j in bound):
        raise SeriesUpdateError(
            f"{what}: says it is from {country}:{name}, but {sender}'s key is trusted only for "
            + ", ".join(bound)
        )
    return f"{country}:{name}"


# --- applying it ----------------------------------------------------------------------------


def apply_update(
    session: Session, series: Sequence[dict[str, Any]], *, by: str, reason: str, source: str
) -> tuple[list[Applied], list[Difference]]:
    """Apply the update's ``series`` (checked documents) in ``session``; what was applied and
    what was left for a person, in the order of the file."""
    applier = _Applier(session, by=by, reason=reason, source=source)
    for doc in series:
        applier.series(doc)
    return applier.out.applied, applier.out.differences
