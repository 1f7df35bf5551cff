"""HMA's per-API exchange routes: credentials (``/c/exchanges/api/<name>``) and the form schema
of an API's settings and credentials (``/c/exchanges/api/<name>/schema``).

HMA sets credentials per API; an exchange added without its own uses them
(``kaitiaki.exchanges.api_credentials``). They are read from the raw body, never through a
request model: a validation error would echo the body, credentials included, back to the
client. No response, log line or audit entry holds them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool

from kaitiaki.exchanges.api_credentials import (
    ApiCredentialsView,
    api_credentials_status,
    set_api_credentials,
)
from kaitiaki.exchanges.registry import ExchangeError, apis
from kaitiaki.exchanges.schema import api_schema
from kaitiaki.users.tokens import TokenPrincipal
from kaitiaki.web.hma.common import ERRORS, store_of
from kaitiaki.web.tokens import Scoped

router = APIRouter(prefix="/c", tags=["HMA exchanges"], responses=ERRORS)
ApiName = Path(max_length=40)
# A credential field that points the server's requests somewhere else (StopNCII's test URL)
# would let a token holder aim the server at any host: the operator sets it, on the server
# (``kaitiaki exchange credentials``), as a file exchange is added there.
SERVER_ONLY_FIELDS = frozenset({"base_url_override"})
CREDENTIALS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"credential_json": {"type": ["object", "null"]}},
                }
            }
        },
    }
}


def _answer(view: ApiCredentialsView) -> dict[str, bool]:
    return {
        "supports_authentification": view.supports_authentification,
        "has_set_authentification": view.has_set_authentification,
    }


def _known(api_name: str) -> None:
    if api_name not in apis():
        raise HTTPException(400, f"no such Exchange API '{api_name}'")


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body())
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise HTTPException(400, "this endpoint expects a json object payload")
    return data


@router.get("/exchanges/api/{api_name}")
def exchange_api_show(
    request: Request, api_name: str = ApiName, principal: TokenPrincipal = Scoped.EXCHANGE
) -> dict[str, bool]:
    _known(api_name)
    return _answer(api_credentials_status(store_of(request), api_name))


@router.post("/exchanges/api/{api_name}", openapi_extra=CREDENTIALS_BODY)
async def exchange_api_update(
    request: Request, api_name: str = ApiName, principal: TokenPrincipal = Scoped.EXCHANGE
) -> dict[str, bool]:
    """Like HMA's: ``credential_json`` absent or null changes nothing; empty (or any other
    falsy value) clears the API's credentials; an object sets them."""
    _known(api_name)
    body = await _json_object(request)
    store = store_of(request)
    given = body.get("credential_json")
    if given is None:
        return _answer(await run_in_threadpool(api_credentials_status, store, api_name))
    if given and not isinstance(given, dict):
        raise HTTPException(400, "credential_json must be a JSON object")
    kept_out = sorted(SERVER_ONLY_FIELDS & set(given or {}))
    if kept_out:
        raise HTTPException(400, f"{kept_out[0]!r} is set on the server, not over the API")
    try:
        view = await run_in_threadpool(
            lambda: set_api_credentials(store, api_name, given or None, actor=principal.actor)
        )
    except ExchangeError as exc:
        raise HTTPException(400, f"Invalid credential_json - {exc}") from None
    return _answer(view)


@router.get("/exchanges/api/{api_name}/schema")
def exchange_api_schema(
    api_name: str = ApiName, principal: TokenPrincipal = Scoped.EXCHANGE
) -> dict[str, Any]:
    api_cls = apis().get(api_name)
    if api_cls is None:
        raise HTTPException(404, f"Exchange API '{api_name}' not found")
    return api_schema(api_cls)
