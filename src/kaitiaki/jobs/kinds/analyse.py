"""``analyse``: access records to attributed subjects (``kaitiaki operation analyse``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, flag, only, text, texts
from kaitiaki.jobs.paths import (
    Area,
    checked_path,
    checked_paths,
    confinement_of,
    require_evidence,
    with_confinement,
)
from kaitiaki.operation.secret import server_operation_key
from kaitiaki.store import Store
from kaitiaki.store.models import AccountLink

# Optional input files, as `kaitiaki operation analyse` takes them.
OPTIONAL_FILES = (
    "mapping",
    "mmdb",
    "asn_mmdb",
    "hosting_list",
    "agencies",
    "reviewer_flags",
)
FIELDS = (
    "records",
    "accounts",
    "catalog",
    "out",
    "hash_sets",
    "assume_tz",
    "weak_links",
    "engine",
    "spark_master",
)
ENGINES = ("duckdb", "spark")
# The stages analyse_operation announces through ``step`` (a count that only sizes the bar).
STAGES = 6


def _paths(params: Params) -> Params:
    """Inputs below the server's evidence folders and ``out`` below its work folder, for a
    web job; checked when submitted and again when it runs."""
    confinement = confinement_of(params)
    require_evidence(confinement, "records")
    records = texts(params, "records")
    assert records is not None
    checked: dict[str, Any] = {
        "records": checked_paths(records, "records", confinement, area=Area.EVIDENCE, kind="file")
    }
    for field in ("accounts", "catalog"):
        value = text(params, field)
        assert value is not None
        checked[field] = checked_path(value, field, confinement, area=Area.EVIDENCE, kind="file")
    out = text(params, "out")
    assert out is not None
    checked["out"] = checked_path(out, "out", confinement, area=Area.OUTPUT, kind="output")
    for field in OPTIONAL_FILES:
        value = text(params, field, required=False)
        checked[field] = (
            None
            if value is None
            else checked_path(value, field, confinement, area=Area.EVIDENCE, kind="file")
        )
    return checked


def validate(store: Store, params: Params) -> Params:
    only(params, FIELDS + OPTIONAL_FILES)
    checked = _paths(params)
    checked["hash_sets"] = texts(params, "hash_sets", required=False)
    tz = text(params, "assume_tz", required=False)
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise JobParamsError("assume_tz", f"unknown time zone {tz!r}") from None
    checked["assume_tz"] = tz
    checked["weak_links"] = flag(params, "weak_links")
    engine = text(params, "engine", required=False) or "duckdb"
    if engine not in ENGINES:
        raise JobParamsError("engine", f"unknown engine {engine!r}; use duckdb or spark")
    checked["engine"] = engine
    # The master URL comes from the job or, as for the CLI, the server's KAITIAKI_SPARK_MASTER.
    checked["spark_master"] = text(params, "spark_master", required=False)
    return with_confinement(checked, confinement_of(params))


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def run(ctx: JobContext, params: Params) -> Params:
    # Imported here: DuckDB, Arrow and the geo stack are for the worker, not for submitting.
    from kaitiaki.engines.spark_session import SparkSettings
    from kaitiaki.operation.analyse import AnalysisOptions, analyse_operation

    if confinement_of(params) is not None:
        # Again: a file may have been swapped for a link while the web's job waited.
        params = {**params, **_paths(params)}

    with ctx.store.session() as session:
        rejected = [
            (link.account_a, link.account_b)
            for link in session.scalars(select(AccountLink).where(AccountLink.rejected))
        ]
    options = AnalysisOptions(
        hash_sets=params["hash_sets"],
        mapping=_path(params["mapping"]),
        assume_tz=params["assume_tz"],
        mmdb=_path(params["mmdb"]),
        asn_mmdb=_path(params["asn_mmdb"]),
        hosting_list=_path(params["hosting_list"]),
        agencies=_path(params["agencies"]),
        reviewer_flags=_path(params["reviewer_flags"]),
        weak_links=params["weak_links"],
        engine=params.get("engine") or "duckdb",
        spark=SparkSettings(master=params.get("spark_master")),
        # The secret stays in the server's environment, as for the CLI; never in the job row.
        operation_key=server_operation_key(),
    )
    stages = 0
    current = ""

    def step(text: str) -> None:
        nonlocal stages, current
        current = text
        ctx.stage(text, stages, max(STAGES, stages + 1))
        stages += 1

    def progress(stage: str, done: int, total: int) -> None:
        shown = f"{current}: {stage} {done:,}" + (f" of {total:,}" if total else "")
        ctx.progress(stages - 1, max(STAGES, stages), shown)

    result = analyse_operation(
        ctx.store,
        [Path(p) for p in params["records"]],
        Path(params["accounts"]),
        Path(params["catalog"]),
        Path(params["out"]),
        options,
        step=step,
        progress=progress,
        rejected_links=rejected,
        actor=ctx.created_by,
    )
    ctx.stage("analysis written", max(STAGES, stages), max(STAGES, stages))
    return {
        "out": str(result.out),
        "rows_read": {i.kind: sum(f.rows_read for f in i.files) for i in result.ingests},
        "rows_rejected": {i.kind: sum(f.rejected for f in i.files) for i in result.ingests},
        "objects_checked": result.objects_checked,
        "objects_flagged": result.objects_flagged,
        "flagged_accounts": result.flagged_accounts,
        "subjects": result.subjects,
        "links": result.links,
        "countries": dict(result.countries.most_common()),
        "vpn_or_hosting": result.vpn_or_hosting,
        "unattributed": result.unattributed,
    }


KIND = JobKind(
    name="analyse",
    title="Analyse an operation's access records",
    resumable=False,
    validate=validate,
    run=run,
)
