"""What the HMA-compatible routes share: the store, HMA's bank JSON, its list parameters."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from pydantic import BaseModel

from kaitiaki.store import Store
from kaitiaki.store.models import HashSet

# The path prefixes HMA's blueprints answer under; errors there are HMA's {"message": ...}.
PREFIXES = ("/m/", "/c/", "/h/")


class HmaError(BaseModel):
    """HMA's error body (its ``api_error_handler``)."""

    message: str


# The refusals every token route can answer, for the OpenAPI document.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": HmaError} for code in (400, 401, 403, 404)
}


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def bank_json(row: HashSet) -> dict[str, Any]:
    """HMA's BankConfig: kaitiaki sets are on or off, so the ratio is 1.0 or 0.0."""
    return {"name": row.name, "matching_enabled_ratio": 1.0 if row.enabled else 0.0}


def bank_names(banks: str | None) -> set[str] | None:
    """HMA's ``banks`` parameter: comma-separated names, or None for every bank."""
    return {b for b in banks.split(",") if b} if banks else None


def enabled_from_ratio(ratio: float | None, enabled: bool | None) -> bool | None:
    """HMA's ``enabled_ratio`` (a share of lookups a bank takes part in) or ``enabled``.

    kaitiaki has no partial matching: a ratio strictly between 0 and 1 is refused rather than
    silently rounded, so a client never believes a bank half-enabled that is fully on.
    """
    if ratio is not None:
        if ratio not in (0, 1):
            raise HTTPException(400, "enabled_ratio must be 0 or 1: kaitiaki banks are on or off")
        return bool(ratio)
    return enabled
