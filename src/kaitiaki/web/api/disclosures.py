"""``/api/disclosures``: answering legal process for an account, as ``kaitiaki disclose``.

A thin adapter over ``legal.disclosure``, which gathers, signs, records and audits. The package
is written below the server's work folder (``disclosures/``) and signed with the server's key,
never with a key or a folder named in the request. Images go only when the request covers them
and the person sending this confirms it (``confirm_files``): the confirmer recorded is that
signed-in person, not a name typed into the body.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from kaitiaki.jobs.params import JobParamsError
from kaitiaki.jobs.paths import Area, checked_path
from kaitiaki.legal.disclosure import DisclosureError, default_out, write_disclosure
from kaitiaki.legal.disclosure_gather import DisclosureNotFoundError
from kaitiaki.refer.signing import SigningKeyError, default_key_path
from kaitiaki.store.models import Disclosure
from kaitiaki.web.api.common import Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.settings import WebSettings

router = APIRouter(prefix="/api/disclosures", tags=["disclosures"])


class DisclosureIn(BaseModel):
    account_id: str = Field(min_length=1, max_length=200)
    request_ref: str = Field(min_length=1, max_length=200)
    analysis: str = Field(min_length=1, max_length=1000)
    platform: str = Field(default="provider", min_length=1, max_length=100)
    include_files: bool = False
    # The sender's own confirmation that the legal process covers the images.
    confirm_files: bool = False


class DisclosureOut(BaseModel):
    id: int
    request_ref: str
    platform: str
    account_id: str
    package_name: str
    package_sha256: str
    includes_files: bool
    files_confirmed_by: str | None
    created_by: str
    created_at: Timestamp


class WrittenOut(DisclosureOut):
    subscriber_records: int
    events: int
    flagged_files: int
    reports: int
    files: int
    files_unavailable: int


def _row(row: Disclosure) -> DisclosureOut:
    return DisclosureOut.model_validate(row, from_attributes=True)


@router.get("", response_model=list[DisclosureOut], responses=errors())
def disclosures(request: Request, user: CurrentUser = Needs.VIEW_REPORTS) -> list[DisclosureOut]:
    """Disclosure packages written, newest first, with the request each answered."""
    with store_of(request).session() as session:
        rows = session.scalars(select(Disclosure).order_by(Disclosure.id.desc())).all()
        return [_row(r) for r in rows]


@router.post("", response_model=WrittenOut, status_code=201, responses=errors(404, 409))
async def disclose(
    body: DisclosureIn, request: Request, user: CurrentUser = Needs.FILE_REPORTS
) -> WrittenOut:
    """Write a signed disclosure package for one account (subscriber data, IP log with ports,
    flagged files' hashes, CyberTipline report ids; images only with ``confirm_files``)."""
    if body.include_files and not body.confirm_files:
        raise HTTPException(
            422, "including the images needs your confirmation that the legal process covers them"
        )
    settings: WebSettings = request.app.state.settings
    try:
        analysis = checked_path(
            body.analysis, "analysis", settings.confinement(), area=Area.RESULTS, kind="dir"
        )
        name = default_out(body.request_ref, body.account_id).name
    except (JobParamsError, DisclosureError) as exc:
        raise HTTPException(422, str(exc)) from None
    workspace = Path(analysis) / "workspace"
    out = settings.data_dir / "disclosures" / name
    if out.exists():
        raise HTTPException(409, f"a disclosure package {name} was written already")
    store = store_of(request)
    try:
        result = await run_in_threadpool(
            lambda: write_disclosure(
                store,
                workspace,
                account_id=body.account_id,
                request_ref=body.request_ref,
                out=out,
                key=default_key_path(),
                actor=user.actor,
                platform=body.platform,
                include_files=body.include_files,
                files_confirmed_by=user.actor if body.include_files else None,
            )
        )
    except SigningKeyError as exc:
        raise HTTPException(422, f"the server's signing key: {exc}") from None
    except DisclosureNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except DisclosureError as exc:
        raise HTTPException(422, str(exc)) from None
    with store.session() as session:
        row = session.get(Disclosure, result.disclosure_id)
        assert row is not None
        written = _row(row)
    return WrittenOut(
        **written.model_dump(),
        subscriber_records=result.subscriber_records,
        events=result.events,
        flagged_files=result.flagged_files,
        reports=result.reports,
        files=result.files,
        files_unavailable=result.files_unavailable,
    )
