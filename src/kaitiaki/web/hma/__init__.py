"""The HMA-compatible API: Meta's Hasher-Matcher-Actioner 1.1 paths, parameters and JSON.

A client written for HMA (``/m/lookup``, ``/c/banks``, ...) talks to kaitiaki unchanged; HMA's
banks are kaitiaki's hash sets and its bank content ids are hash-set entry ids. Every route but
the health checks needs an API token with the route's scope (``kaitiaki.web.tokens``).
"""

from __future__ import annotations

from kaitiaki.web.hma import (
    curation,
    exchange_apis,
    exchanges,
    hashing,
    matching,
    signal_types,
    status,
)

ROUTERS = (status, hashing, matching, curation, signal_types, exchanges, exchange_apis)
