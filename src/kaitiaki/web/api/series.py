"""``/api/series``, ``/api/victims``, ``/api/offenders``: victim-identification records (as
``kaitiaki series``), a thin adapter over ``triage.victims``.

Changes need ``review``: victim identification is done by the people who review the material
(reviewers, investigators, admins), not by a partner's liaison or an auditor; so does applying
another agency's signed series update (``/api/series-updates``, as ``kaitiaki series import``;
not under ``/api/series/``, where it would shadow a series named "updates"). Reading the
series list and past updates needs ``view_files``. People are recorded by pseudonymous id only,
never a name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kaitiaki.store.models import Offender, Victim
from kaitiaki.triage import series_update as updates
from kaitiaki.triage import victims
from kaitiaki.web.api.common import PathKey, Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.uploads import UploadError, accepts_upload, receive_upload, upload_body

router = APIRouter(prefix="/api", tags=["victim identification"])

Description = Field(default=None, max_length=5000)
Reason = Field(default="", max_length=2000)
Notes = Field(default="", max_length=5000)
PseudonymousId = Field(min_length=1, max_length=40)
Country = Field(default=None, max_length=10)
Agency = Field(default=None, max_length=victims.MAX_AGENCY)
AgeBand = Field(default=None, max_length=victims.MAX_AGE_BAND)


class SeriesOut(BaseModel):
    name: str
    description: str
    identified: bool
    victims: int
    victims_identified: int
    offenders: int
    offenders_identified: int
    linked_entries: int
    linked_files: int
    updated_at: Timestamp


class SeriesIn(BaseModel):
    name: str = Field(min_length=1, max_length=victims.MAX_NAME)
    description: str = Field(default="", max_length=5000)
    identified: bool = False


class SeriesChange(BaseModel):
    description: str | None = Description
    identified: bool | None = None
    reason: str = Reason


class VictimOut(BaseModel):
    id: str
    series: str | None
    age_band: str | None
    identified: bool
    country: str | None
    agency: str | None


class VictimIn(BaseModel):
    id: str = PseudonymousId
    series: str | None = Field(default=None, max_length=victims.MAX_NAME)
    age_band: str | None = AgeBand
    identified: bool = False
    country: str | None = Country
    agency: str | None = Agency
    notes: str = Notes


class VictimChange(BaseModel):
    identified: bool | None = None
    country: str | None = Country
    agency: str | None = Agency
    age_band: str | None = AgeBand
    reason: str = Reason


class OffenderOut(BaseModel):
    id: str
    series: str | None
    identified: bool
    country: str | None
    agency: str | None


class OffenderIn(BaseModel):
    id: str = PseudonymousId
    series: str | None = Field(default=None, max_length=victims.MAX_NAME)
    identified: bool = False
    country: str | None = Country
    agency: str | None = Agency
    notes: str = Notes


class OffenderChange(BaseModel):
    identified: bool
    reason: str = Reason


@contextmanager
def answered() -> Iterator[None]:
    """The domain's errors as HTTP: an unknown record 404 (a series named in a body too), a
    name or id already taken 409, a field that cannot be used 422."""
    try:
        yield
    except victims.VictimIdNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except victims.VictimIdExistsError as exc:
        raise HTTPException(409, str(exc)) from None
    except victims.VictimIdError as exc:
        raise HTTPException(422, str(exc)) from None


def _series_out(view: victims.SeriesView) -> SeriesOut:
    return SeriesOut.model_validate(view, from_attributes=True)


def _victim_out(row: Victim, series: str | None) -> VictimOut:
    return VictimOut(
        id=row.id,
        series=series,
        age_band=row.age_band,
        identified=row.identified,
        country=row.country,
        agency=row.agency,
    )


def _offender_out(row: Offender, series: str | None) -> OffenderOut:
    return OffenderOut(
        id=row.id,
        series=series,
        identified=row.identified,
        country=row.country,
        agency=row.agency,
    )


def _series_name(request: Request, series_id: int | None) -> str | None:
    if series_id is None:
        return None
    from kaitiaki.store.models import Series

    with store_of(request).session() as session:
        row = session.get(Series, series_id)
        return None if row is None else row.name


@router.get("/series", response_model=list[SeriesOut], responses=errors())
def series_list(request: Request, user: CurrentUser = Needs.VIEW_FILES) -> list[SeriesOut]:
    """Every series, unidentified first, with its victims, offenders and links counted."""
    return [_series_out(v) for v in victims.list_series(store_of(request))]


@router.post("/series", response_model=SeriesOut, status_code=201, responses=errors(409))
def series_add(body: SeriesIn, request: Request, user: CurrentUser = Needs.REVIEW) -> SeriesOut:
    """Create a series (audited)."""
    store = store_of(request)
    with answered():
        row = victims.add_series(
            store,
            body.name,
            description=body.description,
            identified=body.identified,
            by=user.actor,
        )
        return _series_out(victims.get_series(store, row.name))


@router.post("/series/{name}", response_model=SeriesOut, responses=errors(404))
def series_update(
    name: PathKey, body: SeriesChange, request: Request, user: CurrentUser = Needs.REVIEW
) -> SeriesOut:
    """Change a series' description or identified status (audited when something changes)."""
    store = store_of(request)
    with answered():
        victims.update_series(
            store,
            name,
            description=body.description,
            identified=body.identified,
            by=user.actor,
            reason=body.reason,
        )
        return _series_out(victims.get_series(store, name))


@router.post("/victims", response_model=VictimOut, status_code=201, responses=errors(404, 409))
def victim_add(body: VictimIn, request: Request, user: CurrentUser = Needs.REVIEW) -> VictimOut:
    """Record a victim by pseudonymous id, optionally in a series (audited)."""
    with answered():
        row = victims.add_victim(
            store_of(request),
            body.id,
            series=body.series,
            age_band=body.age_band,
            identified=body.identified,
            country=body.country,
            agency=body.agency,
            notes=body.notes,
            by=user.actor,
        )
    return _victim_out(row, body.series)


@router.post("/victims/{victim_id}", response_model=VictimOut, responses=errors(404))
def victim_update(
    victim_id: PathKey, body: VictimChange, request: Request, user: CurrentUser = Needs.REVIEW
) -> VictimOut:
    """Change a victim's status, e.g. identified once the child is safeguarded (audited)."""
    with answered():
        row = victims.update_victim(
            store_of(request),
            victim_id,
            identified=body.identified,
            country=body.country,
            agency=body.agency,
            age_band=body.age_band,
            by=user.actor,
            reason=body.reason,
        )
    return _victim_out(row, _series_name(request, row.series_id))


@router.post("/offenders", response_model=OffenderOut, status_code=201, responses=errors(404, 409))
def offender_add(
    body: OffenderIn, request: Request, user: CurrentUser = Needs.REVIEW
) -> OffenderOut:
    """Record an offender by pseudonymous id, optionally in a series (audited)."""
    with answered():
        row = victims.add_offender(
            store_of(request),
            body.id,
            series=body.series,
            identified=body.identified,
            country=body.country,
            agency=body.agency,
            notes=body.notes,
            by=user.actor,
        )
    return _offender_out(row, body.series)


@router.post("/offenders/{offender_id}", response_model=OffenderOut, responses=errors(404))
def offender_update(
    offender_id: PathKey, body: OffenderChange, request: Request, user: CurrentUser = Needs.REVIEW
) -> OffenderOut:
    """Change an offender's identified status (audited when it changes)."""
    with answered():
        row = victims.update_offender(
            store_of(request),
            offender_id,
            identified=body.identified,
            by=user.actor,
            reason=body.reason,
        )
    return _offender_out(row, _series_name(request, row.series_id))


# --- signed series updates from other agencies ----------------------------------------------

Value = str | bool | None


class AppliedOut(BaseModel):
    record: str
    id: str
    field: str
    value: Value


class DifferenceOut(BaseModel):
    record: str
    id: str
    field: str
    ours: Value
    theirs: Value
    note: str


class SeriesUpdateOut(BaseModel):
    sha256: str
    sender: str
    key_fingerprint: str
    agency: str
    issued_at: Timestamp
    issued_by: str
    schema_version: str
    already_imported: bool
    applied: list[AppliedOut]
    differences: list[DifferenceOut]


class SeriesUpdateFileOut(BaseModel):
    sha256: str
    sender: str
    key_fingerprint: str
    schema_version: str
    imported_by: str
    imported_at: Timestamp
    applied: int
    differences: list[DifferenceOut]


@router.post(
    "/series-updates",
    response_model=SeriesUpdateOut,
    responses=errors(413, 415),
    openapi_extra=upload_body({}),
)
@accepts_upload
async def series_update_import(
    request: Request, user: CurrentUser = Needs.REVIEW
) -> SeriesUpdateOut:
    """Upload another agency's signed series update (multipart: ``file``). Verified against
    the trust store and applied in one transaction: what we lack is created, identification
    upgrades applied, and whatever would overwrite our records listed in ``differences``. An
    unknown signer, an altered file or an unreadable one is 422, with nothing stored."""
    from kaitiaki.refer.envelope import MAX_ENVELOPE_BYTES
    from kaitiaki.web.api.imports import safe_name
    from kaitiaki.web.settings import WebSettings

    settings: WebSettings = request.app.state.settings
    store = store_of(request)
    try:
        upload = await receive_upload(
            request, settings.data_dir / "uploads", min(settings.max_upload, MAX_ENVELOPE_BYTES)
        )
    except UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    try:
        result = await run_in_threadpool(
            updates.import_series_update, store, upload.path, actor=user.actor
        )
    except updates.READ_ERRORS as exc:
        # The reader names the staged file; the person knows it by the name they sent.
        name = safe_name(upload.filename, "series-update.json")
        raise HTTPException(422, str(exc).replace(str(upload.path), name)) from None
    finally:
        upload.path.unlink(missing_ok=True)
    return SeriesUpdateOut.model_validate(
        {
            **{k: getattr(result, k) for k in SeriesUpdateOut.model_fields},
            "applied": [a.as_dict() for a in result.applied],
            "differences": [d.as_dict() for d in result.differences],
        }
    )


@router.get("/series-updates", response_model=list[SeriesUpdateFileOut], responses=errors())
def series_update_files(
    request: Request, user: CurrentUser = Needs.VIEW_FILES
) -> list[SeriesUpdateFileOut]:
    """The latest 100 series updates imported, newest first, with the differences each left."""
    return [
        SeriesUpdateFileOut.model_validate(f, from_attributes=True)
        for f in updates.imported_updates(store_of(request))
    ]
