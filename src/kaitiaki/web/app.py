"""``create_app``: the FastAPI application over one store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from kaitiaki import __version__
from kaitiaki.audit import AnchorKeeper
from kaitiaki.audit.reasons import ReasonError
from kaitiaki.match.serving import release_store, serve_store
from kaitiaki.store import Store, open_store
from kaitiaki.web.api import (
    audit,
    auth,
    cybertip,
    disclosures,
    evidence,
    exchanges,
    files,
    hashsets,
    holds,
    imports,
    jobs,
    quarantine,
    received,
    referrals,
    review,
    series,
    stats,
    subjects,
    tokens,
    trust,
    users,
)
from kaitiaki.web.authz import CurrentUser, Needs, check_routes
from kaitiaki.web.hma import ROUTERS as HMA_ROUTERS
from kaitiaki.web.hma.common import PREFIXES as HMA_PREFIXES
from kaitiaki.web.hma.fast_lookup import FastLookup
from kaitiaki.web.job_process import JobProcess
from kaitiaki.web.pages import ROUTES as PAGE_ROUTES
from kaitiaki.web.pages import render
from kaitiaki.web.ratelimit import SignInLimiter
from kaitiaki.web.security import BodyLimit, SecurityHeaders
from kaitiaki.web.session_cache import SessionCache
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.thumb_cache import ThumbnailCache
from kaitiaki.web.tokens import TokenCache

if TYPE_CHECKING:
    from kaitiaki.jobs import JobRunner

STATIC = Path(__file__).with_name("static")
API_ROUTERS = (
    auth,
    stats,
    evidence,
    files,
    review,
    hashsets,
    quarantine,
    exchanges,
    subjects,
    referrals,
    received,
    jobs,
    audit,
    users,
    tokens,
    imports,
    trust,
    series,
    cybertip,
    holds,
    disclosures,
)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api", *HMA_PREFIXES)) or path == "/openapi.json"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if request.url.path.startswith(HMA_PREFIXES):
        # HMA's clients read its error shape (api_error_handler): {"message": ...}.
        return JSONResponse({"message": exc.detail}, status_code=exc.status_code, headers=headers)
    if _wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    headers.pop("WWW-Authenticate", None)
    return render.error_page(request, exc.status_code, str(exc.detail), headers)


async def _reason_error(request: Request, exc: Exception) -> Response:
    # A reason or legal basis without real words (kaitiaki.audit.reasons), from any route.
    if _wants_json(request):
        return JSONResponse({"detail": str(exc)}, status_code=422)
    return render.error_page(request, 422, str(exc), {})


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
        # An id that cannot exist (negative, past the database's integers, an over-long or
        # control-character key) names nothing: 404, as an unknown id in range does.
        return await _http_error(request, StarletteHTTPException(404, "no such item"))
    if _wants_json(request):
        return JSONResponse({"detail": jsonable(exc.errors())}, status_code=422)
    return render.error_page(request, 422, "the request was not valid", {})


def jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


def _nothing() -> None:
    return None


def _openapi(request: Request, user: CurrentUser = Needs.SIGNED_IN) -> JSONResponse:
    """The API's OpenAPI schema, for signed-in users only: it maps every route and field."""
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


class _Application(FastAPI):
    """FastAPI with HMA's hot lookups answered in front of everything (``FastLookup``).

    Outside even the error and body-limit layers FastAPI puts first: each is a call and a
    wrapped ``send`` per request, a share of a lookup's cost at thousands a second. The fast
    path sends its own security headers and hands anything it does not answer, errors
    included, to the stack it wraps.
    """

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return FastLookup(stack, self.state.store, self.state.tokens, self.state.settings)


def create_app(store: Store | str | None = None, settings: WebSettings | None = None) -> FastAPI:
    """The application over ``store`` (a Store or a URL; default ``KAITIAKI_DB``)."""
    settings = settings or WebSettings()
    opened = store if isinstance(store, Store) else open_store(store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner: JobRunner | JobProcess | None = None
        anchors = (
            None
            if settings.anchor_dir is None
            else AnchorKeeper(opened, settings.anchor_dir, settings.anchor_every)
        )
        if anchors is not None:
            await run_in_threadpool(anchors.start)
        index_server = serve_store(opened, settings.index_poll_s)
        if index_server.poll_s > 0:
            index_server.warm_up()
        if settings.start_jobs and settings.job_process:
            runner = JobProcess(opened.url, settings.job_workers, settings.job_memory_limit)
            runner.start()
            app.state.wake_jobs = runner.wake
        elif settings.start_jobs:
            from kaitiaki.exchanges.schedule import queue_due
            from kaitiaki.jobs import JobRunner
            from kaitiaki.legal.retention import queue_due_retention

            # In this process ``submit`` wakes the runner's threads itself.
            runner = JobRunner(
                opened.url,
                workers=settings.job_workers,
                periodic=(queue_due, queue_due_retention),
            )
            runner.start()
        try:
            yield
        finally:
            app.state.wake_jobs = _nothing
            if runner is not None:
                await run_in_threadpool(runner.stop)
            if anchors is not None:
                await run_in_threadpool(anchors.stop)
            await run_in_threadpool(release_store, opened)

    app = _Application(
        title="kaitiaki",
        version=__version__,
        summary="The operation room: evidence, review, subjects, referrals and the audit log.",
        # Swagger UI needs inline script and a CDN, which the CSP forbids; /openapi.json stays.
        docs_url=None,
        redoc_url=None,
        # Served by ``_openapi`` below, behind sign-in, rather than publicly by FastAPI.
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.store = opened
    app.state.settings = settings
    # Called after a job is queued, to start it at once in a job runner of another process.
    app.state.wake_jobs = _nothing
    app.state.sessions = SessionCache(settings.session_cache_seconds)
    app.state.tokens = TokenCache(settings.session_cache_seconds)
    app.state.thumbnails = ThumbnailCache(settings.data_dir / "thumbnails")
    app.state.login_limiter = SignInLimiter(opened, settings.login_window)
    # Outermost last: the security headers go on BodyLimit's refusals too.
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(SecurityHeaders, settings=settings)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ReasonError, _reason_error)
    # Routes are added flat rather than with include_router, whose wrapper objects (FastAPI
    # 0.16x) hide the APIRoutes from app.routes, where check_routes and the tests look.
    for module in API_ROUTERS:
        app.router.routes.extend(module.router.routes)
    for module in HMA_ROUTERS:
        app.router.routes.extend(module.router.routes)
    app.router.routes.extend(PAGE_ROUTES)
    app.add_api_route("/openapi.json", _openapi, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    check_routes(app.routes)
    return app
