"""Security headers on every response, and request bodies bounded before they are read.

The pages load scripts and styles only from this origin (no inline script, no inline style), may
not be framed, and nothing but static assets is cached: a shared machine's browser cache must
not keep an operation's records or imagery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request, UploadFile
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kaitiaki.web.settings import WebSettings

if TYPE_CHECKING:
    from kaitiaki.web.authz import Requirement

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # blob: for revealed images fetched by script; data: for the map's and charts' images.
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def is_secure(request: Request, settings: WebSettings) -> bool:
    return settings.secure_cookies or request.url.scheme == "https"


def security_headers(*, secure: bool, static: bool = False) -> list[tuple[bytes, bytes]]:
    """Every header ``SecurityHeaders`` puts on a response that sets none of its own, encoded:
    for an ASGI layer that answers before it (``web.hma.fast_lookup``)."""
    pairs = [*HEADERS.items(), *_per_response(secure=secure, static=static)]
    return [(name.lower().encode(), value.encode()) for name, value in pairs]


def _per_response(*, secure: bool, static: bool) -> list[tuple[str, str]]:
    pairs = [("Strict-Transport-Security", HSTS)] if secure else []
    if not static:
        pairs += [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
    return pairs


class SecurityHeaders:
    """ASGI middleware adding the headers as the response starts.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs
    each request in an extra task with memory streams, a cost every request paid under load.
    """

    def __init__(self, app: ASGIApp, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = self.settings.secure_cookies or scope.get("scheme") == "https"
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:  # a response may set its own (a download's CSP)
                        headers[name] = value
                for name, value in _per_response(secure=secure, static=static):
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLargeError(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def _accepts_upload(route: BaseRoute) -> bool:
    from kaitiaki.web.uploads import is_upload_endpoint

    return isinstance(route, APIRoute) and (
        is_upload_endpoint(route.endpoint)
        or any(field.field_info.annotation is UploadFile for field in route.dependant.body_params)
    )


def _requirement(route: BaseRoute | None) -> Requirement:
    """The route's requirement; a session's for no route (a 404) or one without."""
    from kaitiaki.web.authz import Requirement, requirement_of

    found = requirement_of(route) if isinstance(route, APIRoute) else None
    return found or Requirement(None)


class BodyLimit:
    """ASGI middleware: no request body is read before its sender is known and its size bounded.

    FastAPI reads and parses a route's body *before* it runs the route's dependencies, the
    authorisation check among them, so an anonymous client could make the server hold any
    amount. Here, before the application sees the request: a request with a body to a route
    that is not public gets 401 unless it carries a live session (a live API token, for a token
    route: ``web/tokens.py``); a declared Content-Length over the route's cap gets 413; and the
    bytes actually streamed are counted (chunked bodies declare no length), the request ending
    in 413 the moment they pass the cap. The cap is ``max_body`` (1 MiB: JSON and forms), or
    ``max_upload`` for routes marked ``accepts_upload`` (which stream the file to disk,
    ``web/uploads.py``) or taking an ``UploadFile``.
    """

    def __init__(self, app: ASGIApp, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings

    def _route(self, scope: Scope) -> BaseRoute | None:
        for route in scope["app"].router.routes:
            matched, _ = route.matches(scope)
            if matched == Match.FULL:
                found: BaseRoute = route
                return found
        return None

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception, *, api: bool = False
    ) -> None:
        assert isinstance(exc, StarletteHTTPException)
        request = Request(scope, receive)
        path = str(scope.get("path", ""))
        if api or path.startswith("/api"):
            from kaitiaki.web.hma.common import PREFIXES

            headers = dict(exc.headers or {})
            # HMA's clients read its error shape, {"message": ...}, as the app's handler gives.
            key = "message" if path.startswith(PREFIXES) else "detail"
            response: Response = JSONResponse(
                {key: exc.detail}, status_code=exc.status_code, headers=headers
            )
        else:
            from kaitiaki.web.pages.render import error_page

            response = error_page(request, exc.status_code, str(exc.detail), {})
        # The unread body is not drained: the server closes the connection after this response.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        has_body = scope["method"] not in _BODILESS or bool(
            (declared and declared != "0") or "transfer-encoding" in headers
        )
        if not has_body:
            await self.app(scope, receive, send)
            return
        route = self._route(scope)
        limit = (
            self.settings.max_upload
            if route is not None and _accepts_upload(route)
            else self.settings.max_body
        )
        requirement = _requirement(route)
        # Token routes serve machine clients (the HMA API): JSON refusals wherever they live.
        api = requirement.token_scope is not None
        # A session, or an API token for a token route; looked up once and cached in the
        # request's state for the route's own check.
        if not requirement.public and await requirement.sender(Request(scope)) is None:
            why = "a valid API token is needed" if api else "sign in first"
            challenge = {"WWW-Authenticate": requirement.challenge}
            await self._refuse(
                scope, receive, send, StarletteHTTPException(401, why, challenge), api=api
            )
            return
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, BodyTooLargeError(limit), api=api)
            return
        await self._counted(scope, receive, send, limit, api)

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, limit: int, api: bool
    ) -> None:
        received = 0
        too_large = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLargeError(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if too_large:
                # Whatever the application made of the cut-off body (FastAPI turns it into a
                # 400) is replaced by the 413 below.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError:
            if started:
                raise
        if too_large and not started:
            await self._refuse(scope, receive, send, BodyTooLargeError(limit), api=api)
