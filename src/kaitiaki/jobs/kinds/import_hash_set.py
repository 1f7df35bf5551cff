"""``import_hash_set``: a VICS, list or CSV file as a new hash set (``hashset import``)."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from sqlalchemy import select

from kaitiaki.hashsets import get_profile
from kaitiaki.hashsets.profiles import UnknownProfileError
from kaitiaki.hashsets.store import (
    DEFAULT_THRESHOLD,
    MAX_THRESHOLD,
    ImportFormat,
    detect_format,
    import_hash_set,
)
from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, existing_path, integer, only, text
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet

FIELDS = ("path", "name", "format", "profile", "threshold", "source")


def validate(store: Store, params: Params) -> Params:
    only(params, FIELDS)
    path, name = text(params, "path"), text(params, "name")
    assert path is not None and name is not None
    path = existing_path(path, "path", kind="file")
    fmt = text(params, "format", required=False) or detect_format(Path(path))
    if fmt not in get_args(ImportFormat):
        raise JobParamsError("format", f"must be one of {', '.join(get_args(ImportFormat))}")
    profile = text(params, "profile", required=False)
    if profile is not None:
        try:
            get_profile(profile)
        except UnknownProfileError as exc:
            raise JobParamsError("profile", str(exc)) from None
    with store.session() as session:
        if session.scalar(select(HashSet.id).where(HashSet.name == name)) is not None:
            raise JobParamsError("name", f"a hash set named {name!r} already exists")
    return {
        "path": path,
        "name": name,
        "format": fmt,
        "profile": profile,
        "threshold": integer(
            params, "threshold", low=0, high=MAX_THRESHOLD, default=DEFAULT_THRESHOLD
        ),
        "source": text(params, "source", required=False) or "",
    }


def run(ctx: JobContext, params: Params) -> Params:
    path = Path(params["path"])
    size = path.stat().st_size

    def on_progress(read: int) -> None:
        ctx.progress(read, size, f"read {read:,} of {size:,} bytes")

    ctx.stage("reading", 0, size)
    row = import_hash_set(
        ctx.store,
        path,
        params["name"],
        params["format"],
        params["profile"],
        params["threshold"],
        params["source"],
        progress=on_progress,
        actor=ctx.created_by,
    )
    ctx.stage(f"imported {row.entry_count:,} entries", size, size)
    return {
        "hash_set_id": row.id,
        "name": row.name,
        "entries": row.entry_count,
        "profile": row.profile,
        "threshold": row.pdq_threshold,
        "source_sha256": row.source_sha256,
    }


# Not resumable, but safe to submit again: an import is one transaction, all or nothing.
KIND = JobKind(
    name="import_hash_set",
    title="Import a hash set",
    resumable=False,
    validate=validate,
    run=run,
)
