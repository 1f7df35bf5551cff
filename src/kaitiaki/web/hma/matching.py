"""HMA's matching blueprint (``/m``): look a signal up in the banks, and the index status.

``/m/raw_lookup`` asks every bank, enabled or not, as HMA's does; ``/m/lookup`` only the
enabled banks and not quarantined or disabled entries (HMA's "enabled content"), unless the
caller bypasses HMA's coin flip, which in HMA also takes in banks switched off. Each bank answers
a PDQ query at its own threshold, through the same index scans use.

Matches an allowlist bank cancels (``match.controls``), and the allowlist's own hits, are left
out of both, so an HMA client sees no match; kaitiaki's ``include_suppressed=true`` lists them,
each naming its allowlist (``suppressed_by``) or marked ``allowlist``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from kaitiaki.match.controls import BankHit
from kaitiaki.match.lookup import (
    SIGNAL_TYPES,
    SignalInputError,
    compare_signals,
    lookup_pdq_variants,
    lookup_signal,
)
from kaitiaki.match.lookup_video import VideoHit
from kaitiaki.match.serving import server_for
from kaitiaki.signals.base import SignalError
from kaitiaki.signals.reference import pdq_dihedral
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry
from kaitiaki.users.tokens import TokenPrincipal
from kaitiaki.web.hma.common import ERRORS, bank_names, store_of
from kaitiaki.web.hma.hashing import (
    FIELD,
    PHOTO_BODY,
    UPLOAD_ERRORS,
    hash_photo,
    hash_received,
    hash_url,
    received_media,
)
from kaitiaki.web.tokens import token_scope
from kaitiaki.web.uploads import accepts_upload

router = APIRouter(prefix="/m", tags=["HMA matching"], responses=ERRORS)
MATCH = Depends(token_scope("match"))
COMPARE_BODY = Body()
# A vpdq signal is a frame list (~75 characters a second of video); a query string cannot
# carry much more than this anyway.
SIGNAL_LENGTH = 16_000


def _lookup(
    store: Store, signal_type: str, signal: str, banks: set[str] | None, include_disabled: bool
) -> list[BankHit]:
    try:
        return lookup_signal(
            store, signal_type, signal, banks=banks, include_disabled=include_disabled
        )
    except SignalInputError as exc:
        raise HTTPException(400, str(exc)) from None


def _match(hit: BankHit) -> dict[str, Any]:
    # HMA writes the distance as text (its SignalSimilarityInfo.pretty_str()).
    if isinstance(hit, VideoHit):
        return {"bank_content_id": hit.entry_id, "distance": hit.pretty()}
    return {"bank_content_id": hit.entry_id, "distance": str(hit.distance)}


def _shown(hit: BankHit) -> dict[str, Any]:
    """A hit as ``include_suppressed`` lists it: one an allowlist took part in says so."""
    if hit.allowlist:
        return {**_match(hit), "allowlist": True}
    if hit.suppressed_by:
        return {**_match(hit), "suppressed_by": hit.suppressed_by}
    return _match(hit)


def _kept(hits: list[BankHit], include_suppressed: bool) -> list[BankHit]:
    return [h for h in hits if include_suppressed or not (h.allowlist or h.suppressed_by)]


@router.get("/raw_lookup")
def raw_lookup(
    request: Request,
    signal: str = Query(max_length=SIGNAL_LENGTH),
    signal_type: str = Query(max_length=40),
    banks: str | None = Query(None, max_length=10_000),
    include_distance: bool = False,
    include_suppressed: bool = False,
    principal: TokenPrincipal = MATCH,
) -> dict[str, list[Any]]:
    """Entry ids matching the signal in any bank (HMA's ``{"matches": [...]}``)."""
    hits = _lookup(store_of(request), signal_type, signal, bank_names(banks), True)
    return raw_matches(hits, include_suppressed, include_distance)


def raw_matches(
    hits: list[BankHit], include_suppressed: bool, include_distance: bool
) -> dict[str, list[Any]]:
    """``/m/raw_lookup``'s answer (also given by ``fast_lookup``)."""
    hits = _kept(hits, include_suppressed)
    if include_suppressed:
        return {"matches": [_shown(h) for h in hits]}
    if include_distance:
        return {"matches": [_match(h) for h in hits]}
    return {"matches": [h.entry_id for h in hits]}


@router.get("/lookup")
def lookup(
    request: Request,
    signal: str | None = Query(None, max_length=SIGNAL_LENGTH),
    signal_type: str | None = Query(None, max_length=40),
    url: str | None = Query(None, max_length=4000),
    content_type: str | None = Query(None, max_length=40),
    types: str | None = Query(None, max_length=200),
    banks: str | None = Query(None, max_length=10_000),
    seed: str | None = Query(None, max_length=200),
    bypass_coinflip: bool = False,
    include_suppressed: bool = False,
    principal: TokenPrincipal = MATCH,
) -> dict[str, Any]:
    """Matches by bank (HMA's ``{"BANK": [{"bank_content_id", "distance"}]}``); for a ``url``,
    by signal type then bank, unless ``signal_type`` picks one."""
    store = store_of(request)
    if url:
        # HMA hashes the url, looks each hash up, and answers for the one signal type asked,
        # or by signal type when none was.
        by_type = {
            name: by_bank(
                _lookup(store, name, value, bank_names(banks), bypass_coinflip),
                include_suppressed,
            )
            for name, value in hash_url(url, content_type, types).items()
            if value
        }
        return by_type.get(signal_type, {}) if signal_type else by_type
    if not signal or not signal_type:
        raise HTTPException(400, "Either url or both signal and signal_type are required")
    hits = _lookup(store, signal_type, signal, bank_names(banks), bypass_coinflip)
    return by_bank(hits, include_suppressed)


def by_bank(hits: list[BankHit], include_suppressed: bool) -> dict[str, list[dict[str, Any]]]:
    """``/m/lookup``'s answer (also given by ``fast_lookup``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for hit in _kept(hits, include_suppressed):
        if not (hit.quarantined or hit.disabled):
            out.setdefault(hit.bank, []).append(_shown(hit))
    return out


def _lookup_photo(
    store: Store,
    data: bytes,
    banks: set[str] | None,
    bypass: bool,
    dihedral: bool,
    include_suppressed: bool,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for signal_type, value in hash_photo(data, None).items():
        if not value:
            continue  # a PDQ below the quality floor matches nothing, as in HMA
        if signal_type == "pdq" and dihedral:
            try:
                variants = pdq_dihedral(data)
            except SignalError as exc:
                raise HTTPException(400, str(exc)) from None
            hits = lookup_pdq_variants(store, variants, banks=banks, include_disabled=bypass)
        else:
            hits = _lookup(store, signal_type, value, banks, bypass)
        out[signal_type] = by_bank(hits, include_suppressed)
    return out


def _lookup_hashes(
    store: Store,
    hashes: dict[str, str],
    banks: set[str] | None,
    bypass: bool,
    include_suppressed: bool,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each of a video's hashes looked up, by signal type then bank."""
    return {
        signal_type: by_bank(_lookup(store, signal_type, value, banks, bypass), include_suppressed)
        for signal_type, value in hashes.items()
        if value
    }


@router.post("/lookup", responses=UPLOAD_ERRORS, openapi_extra=PHOTO_BODY)
@accepts_upload
async def lookup_post(
    request: Request,
    banks: str | None = Query(None, max_length=10_000),
    seed: str | None = Query(None, max_length=200),
    bypass_coinflip: bool = False,
    dihedral: bool = False,
    include_suppressed: bool = False,
    principal: TokenPrincipal = MATCH,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Hash the uploaded photo (field ``photo``) or video (field ``video``) and look each hash
    up, by signal type then bank. ``dihedral=true`` (kaitiaki's) also asks the rotated and
    flipped photo's PDQ."""
    async with received_media(request) as received:
        if received.content_type != FIELD:
            return await run_in_threadpool(
                _lookup_hashes,
                store_of(request),
                await run_in_threadpool(lambda: hash_received(received, None, strict=False)),
                bank_names(banks),
                bypass_coinflip,
                include_suppressed,
            )
        data = await run_in_threadpool(received.path.read_bytes)
    return await run_in_threadpool(
        _lookup_photo,
        store_of(request),
        data,
        bank_names(banks),
        bypass_coinflip,
        dihedral,
        include_suppressed,
    )


@router.post("/compare")
def compare(body: Any = COMPARE_BODY, principal: TokenPrincipal = MATCH) -> dict[str, list[Any]]:
    """``{"pdq": [a, b]}`` -> ``{"pdq": [matches, {"distance": n}]}``, per signal type."""
    if not isinstance(body, dict):
        raise HTTPException(400, "Request input was not a dict")
    out: dict[str, list[Any]] = {}
    for signal_type, pair in body.items():
        if not isinstance(pair, list):
            raise HTTPException(400, f"Comparison hashes for {signal_type} was not a list")
        if len(pair) != 2 or not all(isinstance(h, str) for h in pair):
            raise HTTPException(400, "Comparison hash list length must be exactly 2")
        try:
            matched, info = compare_signals(signal_type, pair[0], pair[1])
        except SignalInputError as exc:
            raise HTTPException(400, f"Invalid {signal_type} hash: {exc}") from None
        out[signal_type] = [matched, info]
    return out


def _index_status(store: Store) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with store.session() as session:
        for name, (column, _form) in SIGNAL_TYPES.items():
            held = getattr(HashSetEntry, column).is_not(None)
            size, newest = session.execute(
                select(func.count(HashSetEntry.id), func.max(HashSet.imported_at))
                .join(HashSet, HashSet.id == HashSetEntry.hash_set_id)
                .where(held, HashSet.enabled)
            ).one()
            # Indexes are built on demand from the store, so they are always as new as the
            # banks they hold; built_to is the newest such bank's import time.
            out[name] = {
                "present": bool(size),
                "built_to": int(newest.timestamp()) if size and newest else -1,
                "size": int(size or 0),
            }
    # PDQ is answered from the served indexes (match.serving): say what they hold, up to when
    # the store was last checked, and (kaitiaki's addition) each bank's index version and age.
    banks = [b for b in server_for(store).status() if b["enabled"]]
    if "pdq" in out:
        size = sum(int(str(b["size"])) for b in banks)
        checked = min((float(str(b["checked_at"])) for b in banks), default=-1.0)
        out["pdq"] = {
            "present": size > 0,
            "built_to": int(checked) if size else -1,
            "size": size,
            "banks": banks,
        }
    return out


@router.get("/index/status")
def index_status(
    request: Request,
    signal_type: str | None = Query(None, max_length=40),
    principal: TokenPrincipal = MATCH,
) -> dict[str, dict[str, Any]]:
    """Per signal type: whether an index holds anything, to when, and how many hashes."""
    if signal_type is not None and signal_type not in SIGNAL_TYPES:
        raise HTTPException(400, f"No such signal type '{signal_type}'")
    status = _index_status(store_of(request))
    return {signal_type: status[signal_type]} if signal_type else status
