"""``scan``: hash evidence into the store and match it (``kaitiaki scan``); resumable."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, existing_path, integer, only, text, texts
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet

FIELDS = ("evidence", "roots", "hash_sets", "workers", "description")


def validate(store: Store, params: Params) -> Params:
    only(params, FIELDS)
    evidence = text(params, "evidence")
    roots = texts(params, "roots")
    assert evidence is not None and roots is not None
    hash_sets = texts(params, "hash_sets", required=False)
    if hash_sets:
        # Names only: loading the matcher here would build its index in the web request.
        with store.session() as session:
            rows = session.execute(
                select(HashSet.name, HashSet.enabled).where(HashSet.name.in_(hash_sets))
            )
            enabled = {name: on for name, on in rows}
        missing = [n for n in hash_sets if n not in enabled]
        if missing:
            raise JobParamsError("hash_sets", f"no hash set named {', '.join(map(repr, missing))}")
        off = [n for n in hash_sets if not enabled[n]]
        if off:
            raise JobParamsError("hash_sets", f"hash set {', '.join(map(repr, off))} is disabled")
    return {
        "evidence": evidence,
        "roots": [existing_path(r, "roots") for r in roots],
        "hash_sets": hash_sets,
        "workers": integer(params, "workers", low=1, high=max(64, os.cpu_count() or 1)),
        "description": text(params, "description", required=False) or "",
    }


def run(ctx: JobContext, params: Params) -> Params:
    # Imported here, as in the CLI: listing or submitting jobs must not load the hashing stack.
    from kaitiaki.scan.runner import run_scan

    def on_progress(done: int, total: int) -> None:
        ctx.progress(done, total, f"hashed {done:,} of {total:,} files")

    ctx.progress(0, None, "counting files")
    result = run_scan(
        ctx.store,
        [Path(r) for r in params["roots"]],
        params["evidence"],
        params["hash_sets"],
        workers=params["workers"],
        description=params["description"],
        acquired_by=ctx.created_by,
        on_progress=on_progress,
    )
    return {
        "evidence": params["evidence"],
        "evidence_id": result.evidence_id,
        "scan_id": result.scan_id,
        "sources_total": result.sources_total,
        "sources_skipped": result.sources_skipped,
        "records_written": result.records_written,
        "manifest_sha256": result.manifest_sha256,
        "seconds": round(result.seconds, 3),
        "notes": list(result.notes),
    }


KIND = JobKind(name="scan", title="Scan evidence", resumable=True, validate=validate, run=run)
