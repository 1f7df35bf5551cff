"""``/api/exchanges``: the hash exchanges' status, and a reviewer's feedback sent back to one.

Thin adapters over ``kaitiaki.exchanges``. Reading needs ``view_files``: the people who see the
material (reviewers, investigators, admins, auditors) may see where the hashes it is matched
against come from and how current they are; nothing here shows the imagery, and no credentials
are ever part of a response. Feedback is a reviewer's decision on a match, so it needs
``review``. Adding, fetching and scheduling exchanges stays with the operator's command line
and the HMA API's exchange-scoped tokens.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from kaitiaki.exchanges import (
    ExchangeError,
    ExchangeMissingError,
    ExchangeView,
    exchange_status,
    list_exchanges,
)
from kaitiaki.exchanges.feedback import (
    FeedbackUnsupportedError,
    FeedbackView,
    give_feedback,
    list_feedback,
)
from kaitiaki.exchanges.timing import describe
from kaitiaki.web.api.common import PathKey, Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api/exchanges", tags=["exchanges"])


class FetchJobOut(BaseModel):
    id: int
    status: str
    done: int
    message: str


class ExchangeOut(BaseModel):
    name: str
    api: str
    hash_set: str
    enabled: bool
    has_credentials: bool
    items: int
    last_fetch_started: Timestamp | None
    last_fetch_finished: Timestamp | None
    last_fetch_status: str | None
    last_fetch_items: int | None
    last_error: str | None
    fetch_every_s: int | None
    schedule: str
    next_fetch_at: Timestamp | None
    job: FetchJobOut | None
    created_by: str
    created_at: Timestamp


class FeedbackOut(BaseModel):
    id: int
    exchange: str
    signal_type: str
    signal: str
    opinion: str
    actor: str
    created_at: Timestamp
    sent_at: Timestamp | None
    status: str
    error: str | None


class ExchangeDetailOut(ExchangeOut):
    feedback: list[FeedbackOut]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signal_type: Literal["pdq", "video_md5", "md5"]
    signal: str = Field(min_length=1, max_length=200)
    opinion: Literal["positive", "negative"]


def exchange_out(view: ExchangeView) -> ExchangeOut:
    job = view.job
    return ExchangeOut(
        name=view.name,
        api=view.api,
        hash_set=view.hash_set,
        enabled=view.enabled,
        has_credentials=view.has_credentials,
        items=view.items,
        last_fetch_started=view.last_fetch_started,
        last_fetch_finished=view.last_fetch_finished,
        last_fetch_status=view.last_fetch_status,
        last_fetch_items=view.last_fetch_items,
        last_error=view.last_error,
        fetch_every_s=view.fetch_every_s,
        schedule="by hand"
        if view.fetch_every_s is None
        else f"every {describe(view.fetch_every_s)}",
        next_fetch_at=view.next_fetch_at,
        job=None if job is None else FetchJobOut(**job.__dict__),
        created_by=view.created_by,
        created_at=view.created_at,
    )


def _schedule(every: int | None) -> str:
    return "by hand" if every is None else f"every {describe(every)}"


def feedback_out(view: FeedbackView) -> FeedbackOut:
    return FeedbackOut.model_validate(view, from_attributes=True)


def exchanges(request: Request) -> list[ExchangeOut]:
    return [exchange_out(v) for v in list_exchanges(store_of(request))]


def exchange_detail(request: Request, name: str) -> ExchangeDetailOut:
    store = store_of(request)
    try:
        view = exchange_status(store, name)
        given = list_feedback(store, name, limit=50)
    except ExchangeMissingError:
        raise HTTPException(404, f"no exchange named {name!r}") from None
    fields: dict[str, Any] = exchange_out(view).model_dump()
    return ExchangeDetailOut(**fields, feedback=[feedback_out(f) for f in given])


@router.get("", response_model=list[ExchangeOut], responses=errors())
def exchanges_list(request: Request, user: CurrentUser = Needs.VIEW_FILES) -> list[ExchangeOut]:
    """Every exchange: last fetch, items, error, schedule, next fetch, a fetch job's progress."""
    return exchanges(request)


@router.get("/{name}", response_model=ExchangeDetailOut, responses=errors(404))
def exchange_show(
    name: PathKey, request: Request, user: CurrentUser = Needs.VIEW_FILES
) -> ExchangeDetailOut:
    """One exchange's status and its newest feedback."""
    return exchange_detail(request, name)


@router.post(
    "/{name}/feedback", response_model=FeedbackOut, status_code=201, responses=errors(404, 409)
)
def exchange_feedback(
    name: PathKey, body: FeedbackIn, request: Request, user: CurrentUser = Needs.REVIEW
) -> FeedbackOut:
    """Send a reviewer's decision on a signal the exchange shared back to it (audited as the
    reviewer). The answer's ``status`` says what came of it: ``sent``, ``failed`` (with the
    error) or ``unsupported`` (the exchange takes no feedback of this kind). An exchange that
    takes no feedback at all is 409 and nothing is recorded."""
    try:
        view = give_feedback(
            store_of(request), name, body.signal_type, body.signal, body.opinion, actor=user.actor
        )
    except ExchangeMissingError:
        raise HTTPException(404, f"no exchange named {name!r}") from None
    except FeedbackUnsupportedError as exc:
        raise HTTPException(409, str(exc)) from None
    except ExchangeError as exc:
        raise HTTPException(422, str(exc)) from None
    return feedback_out(view)
