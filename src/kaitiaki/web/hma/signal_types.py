"""HMA's signal-type configuration routes: index state per type (``/c/signal_type/index``) and
the per-type switch (``PUT /c/signal_type/<name>``), which kaitiaki does not have.

kaitiaki switches matching per bank (``PUT /c/bank/<name>``), not per signal type, so the
switch accepts only what is already true (every type fully on) and says where the real switch
is, rather than store a ratio that nothing would read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from sqlalchemy import func, select

from kaitiaki.match.lookup import SIGNAL_TYPES
from kaitiaki.match.serving import server_for
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry
from kaitiaki.users.tokens import TokenPrincipal
from kaitiaki.web.hma.common import ERRORS, store_of
from kaitiaki.web.tokens import Scoped

router = APIRouter(prefix="/c", tags=["HMA curation"], responses=ERRORS)
# HMA's value for "never" (its empty index checkpoint).
NEVER = -1
# The type served from in-memory indexes (match.serving); every other type is looked up in the
# store itself, so its "index" is the store and never out of date.
SERVED = "pdq"
RATIO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"enabled_ratio": {"type": "number"}}}
            }
        },
    }
}


def _ts(value: datetime | None) -> int:
    if value is None:
        return NEVER
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def _held(store: Store, column: str) -> dict[str, tuple[int, int]]:
    """Per enabled bank holding ``column`` signals: how many, and when it last changed."""
    with store.session() as session:
        rows = session.execute(
            select(
                HashSet.name,
                func.count(HashSetEntry.id),
                func.coalesce(HashSet.changed_at, HashSet.imported_at),
            )
            .join(HashSet, HashSet.id == HashSetEntry.hash_set_id)
            .where(getattr(HashSetEntry, column).is_not(None), HashSet.enabled)
            .group_by(HashSet.name, HashSet.changed_at, HashSet.imported_at)
        ).all()
    return {name: (int(count), _ts(changed)) for name, count, changed in rows}


def index_state(store: Store, name: str) -> dict[str, Any]:
    column, _form = SIGNAL_TYPES[name]
    held = _held(store, column)
    db_size = sum(count for count, _ in held.values())
    newest = max((changed for _, changed in held.values()), default=NEVER)
    if name != SERVED:
        return {
            "db_size": db_size,
            "index_size": db_size,
            "index_out_of_date": False,
            "newest_db_item": newest,
            "index_built_to": newest,
        }
    served = {str(b["bank"]): b for b in server_for(store).status() if b["enabled"]}
    # Behind: a served index answers for an older version of its bank, or a bank holding PDQ
    # hashes has no index yet.
    behind = any(not b["current"] for b in served.values()) or bool(set(held) - set(served))
    ready = [int(str(b["ready_at"])) for b in served.values()]
    return {
        "db_size": db_size,
        "index_size": sum(int(str(b["size"])) for b in served.values()),
        "index_out_of_date": behind,
        "newest_db_item": newest,
        "index_built_to": min(ready, default=NEVER) if behind else newest,
    }


@router.get("/signal_type/index")
def signal_type_index_status(
    request: Request,
    signal_type: str | None = Query(None, max_length=40),
    principal: TokenPrincipal = Scoped.CURATE,
) -> dict[str, dict[str, Any]]:
    """HMA's index state per signal type; times are unix seconds, -1 for never."""
    if signal_type is not None and signal_type not in SIGNAL_TYPES:
        raise HTTPException(400, f"No such signal type '{signal_type}'")
    store = store_of(request)
    names = [signal_type] if signal_type else list(SIGNAL_TYPES)
    return {name: index_state(store, name) for name in names}


@router.put(
    "/signal_type/{signal_type_name}",
    status_code=204,
    response_class=Response,
    openapi_extra=RATIO_BODY,
)
async def signal_type_update(
    request: Request,
    signal_type_name: str = Path(max_length=40),
    principal: TokenPrincipal = Scoped.CURATE,
) -> Response:
    """HMA answers 204; here only for ``enabled_ratio`` 1, which is already so."""
    if signal_type_name not in SIGNAL_TYPES:
        raise HTTPException(404, f"No such signal type '{signal_type_name}'")
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    ratio = body.get("enabled_ratio") if isinstance(body, dict) else None
    if ratio is None:
        raise HTTPException(400, "enabled_ratio is required")
    try:
        value = float(ratio)
    except (TypeError, ValueError):
        raise HTTPException(400, "enabled_ratio must be a number") from None
    if value != 1.0:
        raise HTTPException(
            400,
            "kaitiaki has no per-signal-type switch: every signal type is always on (ratio 1.0);"
            " turn matching on or off per bank with PUT /c/bank/<name>",
        )
    return Response(status_code=204)
