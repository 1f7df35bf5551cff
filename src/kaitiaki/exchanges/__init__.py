"""Hash exchanges (NCMEC, StopNCII, ThreatExchange, Tech Against Terrorism, files) feeding hash
sets, through the clients of Meta's ``threatexchange`` package."""

from kaitiaki.exchanges.fetch import FetchReport, fetch
from kaitiaki.exchanges.manage import (
    ExchangeView,
    add_exchange,
    exchange_status,
    list_exchanges,
    remove_exchange,
)
from kaitiaki.exchanges.registry import (
    APIS,
    ExchangeError,
    ExchangeExistsError,
    ExchangeMissingError,
)

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
