"""``refer``: signed referral packages, one per receiving agency (``kaitiaki refer``).

The packages are signed with the server's key (``$KAITIAKI_KEYS`` or the default keys folder),
never with a key named in the request.
"""

from __future__ import annotations

from pathlib import Path

from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, only, text, texts
from kaitiaki.jobs.paths import Area, checked_path, confinement_of, with_confinement
from kaitiaki.refer.signing import default_key_path
from kaitiaki.store import Store

# No "by": the builder is always the job's creator, so a request cannot name someone else.
FIELDS = ("analysis", "out", "subjects", "tier_at_least", "agencies")


def _paths(params: Params) -> Params:
    """For a web job: the analysis in the server's work folder (or an evidence folder), the
    packages written below the work folder; checked when submitted and again when it runs."""
    confinement = confinement_of(params)
    analysis, out = text(params, "analysis"), text(params, "out")
    agencies = text(params, "agencies", required=False)
    assert analysis is not None and out is not None
    analysis = checked_path(analysis, "analysis", confinement, area=Area.RESULTS, kind="dir")
    if not (Path(analysis) / "workspace").is_dir():
        raise JobParamsError("analysis", "not the folder of an analysis (no workspace)")
    return {
        "analysis": analysis,
        "out": checked_path(out, "out", confinement, area=Area.OUTPUT, kind="output"),
        "agencies": None
        if agencies is None
        else checked_path(agencies, "agencies", confinement, area=Area.EVIDENCE, kind="file"),
    }


def validate(store: Store, params: Params) -> Params:
    only(params, FIELDS)
    paths = _paths(params)
    tier = text(params, "tier_at_least", required=False)
    if tier is not None:
        from kaitiaki.refer.package import TIERS  # the PDF stack loads only when needed

        if tier not in TIERS:
            raise JobParamsError("tier_at_least", f"must be one of {', '.join(TIERS)}")
    key = default_key_path()
    if not key.is_file():
        raise JobParamsError("key", f"the server has no signing key at {key}")
    checked = {
        **paths,
        "subjects": texts(params, "subjects", required=False),
        "tier_at_least": tier,
    }
    return with_confinement(checked, confinement_of(params))


def run(ctx: JobContext, params: Params) -> Params:
    from kaitiaki.refer.package import build_referrals  # imported in the worker (PDF stack)

    if confinement_of(params) is not None:
        # Again: a link may have been swapped in while the web's job waited.
        params = {**params, **_paths(params)}

    def on_progress(done: int, total: int) -> None:
        ctx.progress(done, total, f"built {done} of {total} package(s)")

    ctx.stage("gathering subjects and events", 0)
    batch = build_referrals(
        ctx.store,
        Path(params["analysis"]) / "workspace",
        Path(params["out"]),
        key_path=default_key_path(),
        built_by=ctx.created_by,
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
