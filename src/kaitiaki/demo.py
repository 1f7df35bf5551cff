"""The demo operation: an operation folder laid out as ``kaitiaki init`` lays one out, filled
with benign generated data, for ``kaitiaki demo`` and ``kaitiaki serve --demo`` alike.

    demo/
      kaitiaki.toml   the settings every command run in demo/ takes as defaults
      kaitiaki.db     the store
      keys/           signing key, pointer key, operation key (0600)
      sample/         the benign sample, scanned as evidence ``demo-sample``
      records/        a simulated provider export: access records, accounts, catalog, hash set
      analysis/       the operation analysed and prioritised
      referrals/      signed referral packages (``kaitiaki refer`` writes them)
      reports/        triage and CyberTipline reports
      work/           the web server's uploads and job outputs

Every step is skipped when its result is already there, so running it again continues.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from kaitiaki.config import (
    FILENAME,
    InitOptions,
    OperationConfig,
    Reporter,
    init_operation,
    load_config,
)
from kaitiaki.config.folder import ANALYSIS, OPERATION_KEY, REFERRALS, SIGNING_KEY
from kaitiaki.store import Store
from kaitiaki.store.models import Referral, Subject

EVIDENCE = "demo-sample"
SAMPLE_SETS = ("standin-vics", "standin-video")
OPERATION_SET = "op-set"
RECORDS = "records"
SAMPLE = "sample"
# Benign placeholders: example.org addresses reach nobody; NCMEC's test environment is the
# default destination of a submitted report anyway.
REPORTER = Reporter("Demo Reporter", "reports@provider.example.org", "Example Provider")
Say = Callable[[str], None]


def demo_folder(folder: Path, db: str | None = None) -> OperationConfig:
    """``folder`` as an operation folder (made once, keys included); its settings."""
    if not (folder / FILENAME).exists():
        init_operation(
            folder,
            InitOptions(
                name="Demo operation",
                db=db,
                keys=True,
                reporter=REPORTER,
                evidence=(SAMPLE, RECORDS),
            ),
        )
    return load_config(folder / FILENAME)


def _count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def import_sample_sets(store: Store, sample: Path, actor: str) -> list[str]:
    """The sample's stand-in hash sets, imported once; the names of those imported now."""
    from kaitiaki.hashsets import HashSetMissingError, get_hash_set, import_hash_set
    from kaitiaki.simulate.sample import IMAGE_SET, VIDEO_SET

    imported = []
    for name, relative in zip(SAMPLE_SETS, (IMAGE_SET, VIDEO_SET), strict=True):
        try:
            get_hash_set(store, name)
        except HashSetMissingError:
            import_hash_set(store, sample / relative, name, "vics", source="demo", actor=actor)
            imported.append(name)
    return imported


def analyse_demo_operation(store: Store, folder: Path, say: Say, actor: str) -> None:
    """A small simulated provider export in records/, analysed into analysis/ and prioritised
    with the folder's operation key: what an investigator then refers from."""
    from kaitiaki.hashsets import HashSetMissingError, get_hash_set, import_hash_set
    from kaitiaki.operation.analyse import AnalysisOptions, analyse_operation
    from kaitiaki.priority import prioritise
    from kaitiaki.simulate.operation import simulate_operation

    if _count(store, Subject):
        return
    records = folder / RECORDS
    sample = simulate_operation(records, accounts=600, flagged_accounts=60, events=12_000, seed=7)
    say(f"simulated provider export: {sample.flagged_accounts} flagged accounts in {records}")
    try:
        get_hash_set(store, OPERATION_SET)
    except HashSetMissingError:
        import_hash_set(
            store, records / "hashset.json", OPERATION_SET, "vics", source="demo", actor=actor
        )
    key = (folder / OPERATION_KEY).read_bytes().rstrip(b"\r\n")
    analysis = analyse_operation(
        store,
        [p for n, p in sample.files.items() if n.startswith("records.")],
        records / "accounts.csv",
        records / "catalog.csv",
        folder / ANALYSIS,
        AnalysisOptions(operation_key=key),
        actor=actor,
    )
    say(f"analysed: {analysis.subjects} subjects in {len(analysis.countries)} countries")
    prioritise(store, actor=actor, workspace=folder / ANALYSIS / "workspace")


def refer_demo_operation(store: Store, folder: Path, say: Say, actor: str) -> None:
    """Signed referral packages, built once (the web demo shows them from the start)."""
    from kaitiaki.refer.package import build_referrals

    if _count(store, Referral):
        return
    batch = build_referrals(
        store,
        folder / ANALYSIS / "workspace",
        folder / REFERRALS,
        key_path=folder / SIGNING_KEY,
        built_by=actor,
    )
    say(f"built {len(batch)} referral package(s) under {folder / REFERRALS}")
