"""``retro_match``: a hash set's new entries against everything stored (``hashset retro-match``)."""

from __future__ import annotations

from sqlalchemy import select

from kaitiaki.hashsets.entry import HashSetMissingError
from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, only, text
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet


def validate(store: Store, params: Params) -> Params:
    only(params, ("hash_set",))
    name = text(params, "hash_set")
    assert name is not None
    with store.session() as session:
        if session.scalar(select(HashSet.id).where(HashSet.name == name)) is None:
            raise JobParamsError("hash_set", str(HashSetMissingError(name)))
    return {"hash_set": name}


def run(ctx: JobContext, params: Params) -> Params:
    # Imported when run: the matcher's compiled kernels are slow to load.
    from kaitiaki.match.retro import retro_match

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "pdq":
            ctx.progress(done, total, f"PDQ: {done:,} of {total:,} files")
        else:
            ctx.stage(stage, done, total or None)

    report = retro_match(
        ctx.store, params["hash_set"], actor=ctx.created_by, on_progress=on_progress
    )
    return report.as_json()


# Resumable: a run stopped before its one closing transaction left nothing in the store (the
# operations' flag files it may have written already take the same rows only once), and started
# again it takes the same entries from the same watermark; one that finished finds nothing new.
KIND = JobKind(
    name="retro_match",
    title="Match a hash set's new entries against everything stored",
    resumable=True,
    validate=validate,
    run=run,
)
