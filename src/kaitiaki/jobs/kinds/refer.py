"""``refer``: signed referral packages, one per receiving agency (``kaitiaki refer``).

The packages are signed with the server's key (``$KAITIAKI_KEYS`` or the default keys folder),
never with a key named in the request.
"""

from __future__ import annotations

from pathlib import Path

from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, existing_path, only, output_dir, text, texts
from kaitiaki.refer.signing import default_key_path
from kaitiaki.store import Store

FIELDS = ("analysis", "out", "by", "subjects", "tier_at_least", "agencies")


def validate(store: Store, params: Params) -> Params:
    only(params, FIELDS)
    analysis = text(params, "analysis")
    out = text(params, "out")
    assert analysis is not None and out is not None
    analysis = existing_path(analysis, "analysis", kind="dir")
    if not (Path(analysis) / "workspace").is_dir():
        raise JobParamsError(
            "analysis", f"not the folder of an analysis (no workspace): {analysis}"
        )
    tier = text(params, "tier_at_least", required=False)
    if tier is not None:
        from kaitiaki.refer.package import TIERS  # the PDF stack loads only when needed

        if tier not in TIERS:
            raise JobParamsError("tier_at_least", f"must be one of {', '.join(TIERS)}")
    agencies = text(params, "agencies", required=False)
    key = default_key_path()
    if not key.is_file():
        raise JobParamsError("key", f"the server has no signing key at {key}")
    return {
        "analysis": analysis,
        "out": output_dir(out, "out"),
        "by": text(params, "by", required=False),
        "subjects": texts(params, "subjects", required=False),
        "tier_at_least": tier,
        "agencies": None if agencies is None else existing_path(agencies, "agencies", kind="file"),
    }


def run(ctx: JobContext, params: Params) -> Params:
    from kaitiaki.refer.package import build_referrals  # imported in the worker (PDF stack)

    def on_progress(done: int, total: int) -> None:
        ctx.progress(done, total, f"built {done} of {total} package(s)")

    ctx.stage("gathering subjects and events", 0)
    batch = build_referrals(
        ctx.store,
        Path(params["analysis"]) / "workspace",
        Path(params["out"]),
        key_path=default_key_path(),
        built_by=params["by"] or ctx.created_by,
        subject_ids=params["subjects"],
        tier_at_least=params["tier_at_least"],
        agencies=None if params["agencies"] is None else Path(params["agencies"]),
        on_progress=on_progress,
    )
    return {
        "out": params["out"],
        "packages": [
            {
                "referral_id": p.referral_id,
                "agency": p.agency,
                "country": p.country,
                "folder": str(p.folder),
                "subjects": p.subjects,
                "events": p.events,
                "flagged_files": p.flagged_files,
                "manifest_sha256": p.manifest_sha256,
            }
            for p in batch
        ],
        "already_referred": dict(batch.already_referred),
    }


# Not resumable: a package half-written when the server died needs a person to look at it.
KIND = JobKind(
    name="refer", title="Build referral packages", resumable=False, validate=validate, run=run
)
