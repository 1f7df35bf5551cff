"""A demo operation for the web application, prepared once in a folder.

``kaitiaki serve --demo DIR`` calls ``prepare_demo``: the benign sample scanned (as
``kaitiaki demo`` does), a small simulated provider export analysed, prioritised and referred,
and an admin account. Every step is skipped when its result is already in the store, so the
same command restarts the server on the same data.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from kaitiaki.audit import cli_actor
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, Referral, Subject, User
from kaitiaki.users import Role, add_user

EVIDENCE = "demo-sample"
ADMIN = "admin"
Say = Callable[[str], None]


def _count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _scan_sample(store: Store, folder: Path, say: Say) -> None:
    from kaitiaki.hashsets import HashSetMissingError, get_hash_set, import_hash_set
    from kaitiaki.scan.runner import run_scan
    from kaitiaki.simulate.sample import IMAGE_SET, VIDEO_SET, build_sample

    with store.session() as session:
        if session.scalar(select(Evidence.id).where(Evidence.name == EVIDENCE)) is not None:
            return
    sample = folder / "sample"
    manifest = build_sample(sample)
    say(f"benign sample: {len(manifest.files)} files under {sample}")
    for name, relative in (("standin-vics", IMAGE_SET), ("standin-video", VIDEO_SET)):
        try:
            get_hash_set(store, name)
        except HashSetMissingError:
            import_hash_set(store, sample / relative, name, "vics", source="demo", actor="demo")
    roots = sorted(p.resolve() for p in sample.iterdir() if p.is_dir() and p.name != "hashsets")
    result = run_scan(
        store,
        roots,
        EVIDENCE,
        ["standin-vics", "standin-video"],
        description="benign demo sample",
        acquired_by="kaitiaki serve --demo",
        actor="demo",
    )
    say(f"scanned the sample into evidence {EVIDENCE!r}: {result.records_written} records")


def _operation(store: Store, folder: Path, say: Say) -> None:
    from kaitiaki.hashsets import HashSetMissingError, get_hash_set, import_hash_set
    from kaitiaki.operation.analyse import analyse_operation
    from kaitiaki.priority import prioritise
    from kaitiaki.refer.package import build_referrals
    from kaitiaki.refer.signing import generate_key
    from kaitiaki.simulate.operation import simulate_operation

    op = folder / "op"
    results = op / "results"
    if _count(store, Subject) == 0:
        sample = simulate_operation(op, accounts=600, flagged_accounts=60, events=12_000, seed=7)
        say(f"simulated operation: {sample.flagged_accounts} flagged accounts in {op}")
        try:
            get_hash_set(store, "op-set")
        except HashSetMissingError:
            import_hash_set(
                store, op / "hashset.json", "op-set", "vics", source="demo", actor="demo"
            )
        records = [p for n, p in sample.files.items() if n.startswith("records.")]
        analysis = analyse_operation(
            store, records, op / "accounts.csv", op / "catalog.csv", results, actor="demo"
        )
        say(f"analysed: {analysis.subjects} subjects in {len(analysis.countries)} countries")
        prioritise(store, actor="demo", workspace=results / "workspace")
    if _count(store, Referral) == 0:
        key = folder / "keys" / "demo-signing.key"
        if not key.exists():
            generate_key(key)
        batch = build_referrals(
            store, results / "workspace", folder / "referrals", key_path=key, built_by="demo"
        )
        say(f"built {len(batch)} referral package(s) under {folder / 'referrals'}")


def _admin(store: Store, say: Say) -> None:
    with store.session() as session:
        if session.scalar(select(User.id).where(User.role == Role.ADMIN.value).limit(1)):
            return
    password = os.environ.get("KAITIAKI_ADMIN_PASSWORD") or secrets.token_urlsafe(15)
    add_user(store, ADMIN, Role.ADMIN, password, actor=cli_actor())
    if os.environ.get("KAITIAKI_ADMIN_PASSWORD"):
        say(f"admin account {ADMIN!r} created with the password from KAITIAKI_ADMIN_PASSWORD")
    else:
        # Shown once: only its argon2id hash is kept.
        say(f"admin account {ADMIN!r} created; password (shown only now): {password}")


def demo_evidence_roots(folder: Path) -> list[Path]:
    """What the demo's web may read: the benign sample and the simulated provider export (with
    its analysis). Not the folder itself: it holds the database and the signing key."""
    return [folder / "sample", folder / "op"]


def prepare_demo(store: Store, folder: Path, say: Say = print) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _scan_sample(store, folder, say)
    _operation(store, folder, say)
    _admin(store, say)
