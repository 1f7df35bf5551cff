"""``scan``: hash evidence into the store and match it (``kaitiaki scan``); resumable."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, flag, integer, only, text, texts
from kaitiaki.jobs.paths import (
    Area,
    checked_path,
    checked_paths,
    confinement_of,
    require_evidence,
    with_confinement,
)
from kaitiaki.scan.evidence import EvidenceExistsError, check_reuse
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet

FIELDS = (
    "evidence",
    "roots",
    "hash_sets",
    "workers",
    "description",
    "add_to_existing",
    "viewed_by_provider",
    "expected_sha256",
)


def _roots(params: Params) -> list[str]:
    """The roots, below the server's evidence folders for a web job; checked at submit and run."""
    confinement = confinement_of(params)
    require_evidence(confinement, "roots")
    roots = texts(params, "roots")
    assert roots is not None
    return checked_paths(roots, "roots", confinement, area=Area.EVIDENCE, kind="any")


def _viewed_list(params: Params) -> str | None:
    """The provider's viewed list (``scan.provider_views``), below the evidence folders for a
    web job; read through once so a bad line is refused at submit, naming the line."""
    from kaitiaki.scan.provider_views import ViewedListError, check_list

    given = text(params, "viewed_by_provider", required=False)
    if not given:
        return None
    confinement = confinement_of(params)
    path = checked_path(given, "viewed_by_provider", confinement, area=Area.EVIDENCE, kind="file")
    try:
        check_list(Path(path))
    except ViewedListError as exc:
        raise JobParamsError("viewed_by_provider", str(exc)) from None
    return path


def _expected(params: Params, roots: list[str]) -> list[str] | None:
    """``expected_sha256``: ``HEX`` (one root) or ``ROOT=HEX`` values, ROOT as given in
    ``roots``; kept as ``checked root=HEX`` (``scan.acquisition.parse_expected``)."""
    from kaitiaki.scan.acquisition import ExpectedHashError, parse_expected

    values = texts(params, "expected_sha256", required=False)
    if not values:
        return None
    given = texts(params, "roots") or []
    checked_of = dict(zip(given, roots, strict=False))
    out = []
    for value in values:
        name, sep, digest = value.rpartition("=")
        out.append(f"{checked_of.get(name, name)}={digest}" if sep else value)
    try:
        parse_expected(out, [Path(r) for r in roots])
    except ExpectedHashError as exc:
        raise JobParamsError("expected_sha256", str(exc)) from None
    return out


def validate(store: Store, params: Params) -> Params:
    only(params, FIELDS)
    evidence = text(params, "evidence")
    roots = _roots(params)
    add_to_existing = flag(params, "add_to_existing")
    assert evidence is not None
    with store.session() as session:
        # Early, for a clear answer to the request; the scan checks again as it starts.
        try:
            check_reuse(session, evidence, roots, add_to_existing)
        except EvidenceExistsError as exc:
            raise JobParamsError("evidence", str(exc)) from None
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
    checked = {
        "evidence": evidence,
        "roots": roots,
        "hash_sets": hash_sets,
        "workers": integer(params, "workers", low=1, high=max(64, os.cpu_count() or 1)),
        "description": text(params, "description", required=False) or "",
        "add_to_existing": add_to_existing,
        "viewed_by_provider": _viewed_list(params),
        "expected_sha256": _expected(params, roots),
    }
    return with_confinement(checked, confinement_of(params))


def run(ctx: JobContext, params: Params) -> Params:
    # Imported here, as in the CLI: listing or submitting jobs must not load the hashing stack.
    from kaitiaki.scan.acquisition import parse_expected
    from kaitiaki.scan.runner import run_scan

    def on_progress(done: int, total: int) -> None:
        ctx.progress(done, total, f"hashed {done:,} of {total:,} files")

    # A web job's roots again: a folder may have been swapped for a link while it waited.
    roots = _roots(params) if confinement_of(params) is not None else params["roots"]
    add_to_existing = bool(params.get("add_to_existing", False))
    viewed_list = _viewed_list(params)
    expected = parse_expected(params.get("expected_sha256") or [], [Path(r) for r in roots])

    def on_verify(source: str, done: int, total: int) -> None:
        # Files stay the job's measure; the E01 being read beside them shows in the message.
        share = f"{done * 100 // total}%" if total else "done"
        ctx.progress(ctx.done, None, f"verifying the acquisition hash of {source}: {share}")

    ctx.progress(0, None, "counting files")
    result = run_scan(
        ctx.store,
        [Path(r) for r in roots],
        params["evidence"],
        params["hash_sets"],
        workers=params["workers"],
        description=params["description"],
        acquired_by=ctx.created_by,
        add_to_existing=add_to_existing,
        actor=ctx.created_by,
        on_progress=on_progress,
        # With a viewed list, new instances count as not viewed until it is applied.
        instances_viewed=False if viewed_list else None,
        expected_sha256=expected,
        on_verify=on_verify,
    )
    viewed: dict[str, object] | None = None
    if viewed_list:
        from kaitiaki.scan.provider_views import mark_viewed

        ctx.progress(result.sources_total, result.sources_total, "applying the viewed list")
        marks = mark_viewed(
            ctx.store,
            result.evidence_id,
            Path(viewed_list),
            [Path(r) for r in roots],
            actor=ctx.created_by,
        )
        viewed = {
            "entries": marks.entries,
            "viewed": marks.viewed,
            "not_viewed": marks.not_viewed,
            "unmatched": marks.unmatched,
        }
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
        "viewed_by_provider": viewed,
        "acquisition": [
            {"source": done.source, "status": done.check.status, "detail": done.check.detail}
            for done in result.acquisition
        ],
    }


KIND = JobKind(name="scan", title="Scan evidence", resumable=True, validate=validate, run=run)
