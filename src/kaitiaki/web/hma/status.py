"""HMA's health checks, public as HMA's are: ``/status``, ``/status/live``; and the
orchestrator names ``/livez`` (the process answers) and ``/readyz`` (it can reach its store)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from kaitiaki.store import Store
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.hma.common import store_of

router = APIRouter(tags=["HMA status"])
ALIVE = "I-AM-ALIVE"


def _store_answers(store: Store) -> bool:
    try:
        with store.session() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


async def _ready(request: Request) -> PlainTextResponse:
    # kaitiaki builds each PDQ index on first use, so there is no index to wait for (HMA's
    # INDEX-NOT-LOADED); the store is what a lookup cannot do without.
    if not await run_in_threadpool(_store_answers, store_of(request)):
        return PlainTextResponse("STORE-UNAVAILABLE", status_code=503)
    return PlainTextResponse(ALIVE)


@router.get("/status", response_class=PlainTextResponse, responses={503: {}})
async def status(request: Request, user: CurrentUser | None = Needs.PUBLIC) -> PlainTextResponse:
    """200 when the service should take traffic (HMA's load-balancer check)."""
    return await _ready(request)


@router.get("/readyz", response_class=PlainTextResponse, responses={503: {}})
async def readyz(request: Request, user: CurrentUser | None = Needs.PUBLIC) -> PlainTextResponse:
    return await _ready(request)


@router.get("/status/live", response_class=PlainTextResponse)
def status_live(user: CurrentUser | None = Needs.PUBLIC) -> PlainTextResponse:
    """200 whenever the process answers HTTP: never fails on the store, so a liveness probe
    does not restart a healthy process during a database outage."""
    return PlainTextResponse(ALIVE)


@router.get("/livez", response_class=PlainTextResponse)
def livez(user: CurrentUser | None = Needs.PUBLIC) -> PlainTextResponse:
    return PlainTextResponse(ALIVE)
