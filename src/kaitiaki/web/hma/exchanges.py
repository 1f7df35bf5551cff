"""HMA's exchange routes (``/c/exchanges``, ``/c/exchange/<name>``) over ``kaitiaki.exchanges``.

HMA names an exchange after the bank it feeds; here the exchange and its hash set share that
name, and the set is created when it does not exist. Changes are audited as ``token:<name>``.
Credentials are never part of a response: HMA sets them per API, not here, and kaitiaki's
``ExchangeView`` has no field for them.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kaitiaki.exchanges import (
    ExchangeError,
    ExchangeExistsError,
    ExchangeMissingError,
    ExchangeView,
    add_exchange,
    exchange_status,
    list_exchanges,
    remove_exchange,
)
from kaitiaki.exchanges.manage import set_exchange_enabled
from kaitiaki.exchanges.registry import apis
from kaitiaki.users.tokens import TokenPrincipal
from kaitiaki.web.hma.common import ERRORS, store_of
from kaitiaki.web.tokens import Scoped

router = APIRouter(prefix="/c", tags=["HMA exchanges"], responses=ERRORS)
ExchangeName = Path(max_length=100)
# HMA's rule for the bank an exchange feeds (its exchange_create).
BANK_NAME = re.compile(r"^[A-Z0-9_]+$")
# A file exchange reads a file on the server: that file is named by the server's operator
# (``kaitiaki exchange add --path``), never by a token holder over the network.
SERVER_ONLY_APIS = frozenset({"local_file"})
# Fields of HMA's api_json that HMA itself overwrites with the request's own.
OVERWRITTEN = ("name", "api")


class ExchangeCreate(BaseModel):
    """HMA's ExchangeCreateRequest."""

    model_config = ConfigDict(extra="forbid")
    bank: str = Field(max_length=100)
    api: str = Field(max_length=40)
    api_json: dict[str, Any] = Field(default_factory=dict)


class ExchangeUpdate(BaseModel):
    """HMA's ExchangeUpdateRequest: only ``enabled`` can change."""

    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool | None = None


def _ts(value: datetime | None) -> int | None:
    """Unix seconds, as HMA gives times; SQLite hands back naive UTC datetimes."""
    if value is None:
        return None
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def _config_json(view: ExchangeView) -> dict[str, Any]:
    """HMA's serialised collaboration config (name, api, enabled and the API's settings), plus
    kaitiaki's bank and whether credentials are stored (never what they are)."""
    return {
        **view.config,
        "name": view.name,
        "api": view.api,
        "enabled": view.enabled,
        "bank": view.hash_set,
        "has_credentials": view.has_credentials,
    }


def _status_json(view: ExchangeView) -> dict[str, Any]:
    """HMA's FetchStatus fields, then kaitiaki's own. kaitiaki keeps no progress time apart
    from the fetch, so the checkpoint time is when the last successful fetch finished."""
    ok = view.last_fetch_status == "ok"
    running = view.last_fetch_status == "running"
    return {
        "checkpoint_ts": _ts(view.last_fetch_finished) if ok else None,
        "running_fetch_start_ts": _ts(view.last_fetch_started) if running else None,
        "last_fetch_complete_ts": _ts(view.last_fetch_finished),
        "last_fetch_succeeded": None if view.last_fetch_status is None or running else ok,
        "up_to_date": ok,
        "fetched_items": view.items,
        "status": view.last_fetch_status,
        "last_fetch_items": view.last_fetch_items,
        "error": view.last_error,
        "enabled": view.enabled,
        "fetch_every_s": view.fetch_every_s,
        "next_fetch_ts": _ts(view.next_fetch_at),
    }


def _found(request: Request, name: str) -> ExchangeView:
    try:
        return exchange_status(store_of(request), name)
    except ExchangeMissingError:
        raise HTTPException(404, f"Exchange '{name}' not found") from None


@router.get("/exchanges/apis")
def exchange_apis(principal: TokenPrincipal = Scoped.EXCHANGE) -> list[str]:
    return sorted(apis())


@router.get("/exchanges")
def exchanges_index(request: Request, principal: TokenPrincipal = Scoped.EXCHANGE) -> list[str]:
    return [view.name for view in list_exchanges(store_of(request))]


@router.post("/exchanges", status_code=201)
def exchange_create(
    request: Request, body: ExchangeCreate, principal: TokenPrincipal = Scoped.EXCHANGE
) -> dict[str, str]:
    if not BANK_NAME.match(body.bank):
        raise HTTPException(400, "Field `bank` must match /^[A-Z0-9_]+$/")
    if body.api not in apis():
        raise HTTPException(400, f"No such exchange type '{body.api}'")
    if body.api in SERVER_ONLY_APIS:
        raise HTTPException(400, f"a {body.api} exchange is added on the server, not over the API")
    config = {k: v for k, v in body.api_json.items() if k not in OVERWRITTEN}
    # HMA lets api_json start an exchange disabled; kaitiaki adds it enabled, then PUT disables.
    if config.pop("enabled", True) is not True:
        raise HTTPException(400, "an exchange is created enabled; disable it with PUT")
    try:
        add_exchange(store_of(request), body.bank, body.api, config=config, actor=principal.actor)
    except ExchangeExistsError:
        raise HTTPException(403, "Exchange already exists") from None
    except ExchangeError as exc:
        raise HTTPException(400, f"Failed to parse `api_json` - {exc}") from None
    return {"message": "Created successfully"}


@router.get("/exchange/{exchange_name}")
def exchange_show(
    request: Request,
    exchange_name: str = ExchangeName,
    principal: TokenPrincipal = Scoped.EXCHANGE,
) -> dict[str, Any]:
    return _config_json(_found(request, exchange_name))


@router.get("/exchange/{exchange_name}/status")
def exchange_fetch_status(
    request: Request,
    exchange_name: str = ExchangeName,
    principal: TokenPrincipal = Scoped.EXCHANGE,
) -> dict[str, Any]:
    return _status_json(_found(request, exchange_name))


@router.put("/exchange/{exchange_name}")
def exchange_update(
    request: Request,
    body: ExchangeUpdate,
    exchange_name: str = ExchangeName,
    principal: TokenPrincipal = Scoped.EXCHANGE,
) -> dict[str, Any]:
    if body.enabled is None:
        return _config_json(_found(request, exchange_name))
    try:
        view = set_exchange_enabled(
            store_of(request), exchange_name, body.enabled, actor=principal.actor
        )
    except ExchangeMissingError:
        raise HTTPException(404, f"Exchange '{exchange_name}' not found") from None
    return _config_json(view)


@router.delete("/exchange/{exchange_name}")
def exchange_delete(
    request: Request,
    exchange_name: str = ExchangeName,
    principal: TokenPrincipal = Scoped.EXCHANGE,
) -> dict[str, str]:
    """Like HMA's, succeeds for an exchange already gone. The bank it fed stays (kaitiaki's
    ``exchange remove``); ``DELETE /c/bank/<name>`` removes it."""
    with contextlib.suppress(ExchangeMissingError):
        remove_exchange(store_of(request), exchange_name, actor=principal.actor)
    return {"message": "Exchange deleted"}
