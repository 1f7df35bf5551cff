"""Hash exchanges (NCMEC, StopNCII, ThreatExchange, Tech Against Terrorism, files) feeding hash
sets, through the clients of Meta's ``threatexchange`` package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaitiaki.exchanges.fetch import FetchReport, fetch
from kaitiaki.exchanges.manage import (
    ExchangeView,
    add_exchange,
    exchange_status,
    list_exchanges,
    remove_exchange,
)
from kaitiaki.exchanges.registry import (
    ExchangeError,
    ExchangeExistsError,
    ExchangeMissingError,
)

if TYPE_CHECKING:
    from kaitiaki.exchanges.registry import APIS


def __getattr__(name: str) -> object:
    # APIS is built on first use: its clients load faiss, which the web server's worker
    # processes (which import this package) would otherwise hold in memory for nothing.
    if name == "APIS":
        from kaitiaki.exchanges.registry import apis

        return apis()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "APIS",
    "ExchangeError",
    "ExchangeExistsError",
    "ExchangeMissingError",
    "ExchangeView",
    "FetchReport",
    "add_exchange",
    "exchange_status",
    "fetch",
    "list_exchanges",
    "remove_exchange",
]
