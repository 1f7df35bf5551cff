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
    import_file,
)
from kaitiaki.hashsets.summary import CategoryMapError, check_map_syntax
from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, integer, only, text, texts
from kaitiaki.jobs.paths import Area, checked_path, confinement_of, with_confinement
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet

FIELDS = ("path", "name", "format", "profile", "threshold", "source", "category_map", "hex64")
# What a bare 64-hex value of a list or CSV is; without it such a value is refused.
HEX64 = ("sha256", "pdq")


def _path(params: Params) -> str:
    """The file to read: for a web job, an upload in the server's work folder (or a file below
    its evidence folders); checked when submitted and again when it runs."""
    path = text(params, "path")
    assert path is not None
    return checked_path(path, "path", confinement_of(params), area=Area.RESULTS, kind="file")


def validate(store: Store, params: Params) -> Params:
    only(params, FIELDS)
    name = text(params, "name")
    assert name is not None
    path = _path(params)
    fmt = text(params, "format", required=False) or detect_format(Path(path))
    if fmt not in get_args(ImportFormat):
        raise JobParamsError("format", f"must be one of {', '.join(get_args(ImportFormat))}")
    hex64 = text(params, "hex64", required=False)
    if hex64 is not None and hex64 not in HEX64:
        raise JobParamsError("hex64", f"must be one of {', '.join(HEX64)}")
    profile = text(params, "profile", required=False)
    if profile is not None:
        try:
            get_profile(profile)
        except UnknownProfileError as exc:
            raise JobParamsError("profile", str(exc)) from None
    try:
        # Syntax now; the codes against the profile when the file is read (its header may name it).
        category_map = check_map_syntax(texts(params, "category_map", required=False) or [])
    except CategoryMapError as exc:
        raise JobParamsError("category_map", str(exc)) from None
    with store.session() as session:
        if session.scalar(select(HashSet.id).where(HashSet.name == name)) is not None:
            raise JobParamsError("name", f"a hash set named {name!r} already exists")
    checked = {
        "path": path,
        "name": name,
        "format": fmt,
        "profile": profile,
        "threshold": integer(
            params, "threshold", low=0, high=MAX_THRESHOLD, default=DEFAULT_THRESHOLD
        ),
        "source": text(params, "source", required=False) or "",
        "category_map": category_map,
        "hex64": hex64,
    }
    return with_confinement(checked, confinement_of(params))


def run(ctx: JobContext, params: Params) -> Params:
    # A web job's upload again: a link may have been swapped in while it waited.
    path = Path(_path(params) if confinement_of(params) is not None else params["path"])
    size = path.stat().st_size

    def on_progress(read: int) -> None:
        ctx.progress(read, size, f"read {read:,} of {size:,} bytes")

    ctx.stage("reading", 0, size)
    done = import_file(
        ctx.store,
        path,
        params["name"],
        params["format"],
        params["profile"],
        params["threshold"],
        params["source"],
        hex64=params.get("hex64"),
        progress=on_progress,
        category_map=params.get("category_map") or [],
        actor=ctx.created_by,
    )
    row = done.row
    ctx.stage(f"imported {row.entry_count:,} entries; {done.read.line()}", size, size)
    return {
        "hash_set_id": row.id,
        "name": row.name,
        "entries": row.entry_count,
        "profile": row.profile,
        "threshold": row.pdq_threshold,
        "source_sha256": row.source_sha256,
        "signals": done.read.by_type,
        "notes": list(done.notes),
    }


# Not resumable, but safe to submit again: an import is one transaction, all or nothing.
KIND = JobKind(
    name="import_hash_set",
    title="Import a hash set",
    resumable=False,
    validate=validate,
    run=run,
)
