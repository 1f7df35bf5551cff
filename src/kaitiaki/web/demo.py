"""A demo operation for the web application, prepared once in a folder.

``kaitiaki serve --demo DIR`` calls ``prepare_demo``: the operation folder ``kaitiaki demo``
makes (see ``kaitiaki.demo``: the benign sample scanned, a simulated provider export analysed
and prioritised), its referrals built, and an admin account. Every step is skipped when its
result is already in the store, so the same command restarts the server on the same data.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import select

from kaitiaki.audit import cli_actor
from kaitiaki.config import OperationConfig
from kaitiaki.demo import (
    EVIDENCE,
    SAMPLE,
    SAMPLE_SETS,
    Say,
    analyse_demo_operation,
    demo_folder,
    import_sample_sets,
    refer_demo_operation,
)
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, User
from kaitiaki.users import Role, add_user

__all__ = ["ADMIN", "EVIDENCE", "demo_evidence_roots", "prepare_demo"]
ADMIN = "admin"


def _scan_sample(store: Store, folder: Path, say: Say) -> None:
    from kaitiaki.scan.runner import run_scan
    from kaitiaki.simulate.sample import build_sample

    with store.session() as session:
        if session.scalar(select(Evidence.id).where(Evidence.name == EVIDENCE)) is not None:
            return
    sample = folder / SAMPLE
    manifest = build_sample(sample)
    say(f"benign sample: {len(manifest.files)} files under {sample}")
    import_sample_sets(store, sample, actor="demo")
    roots = sorted(p.resolve() for p in sample.iterdir() if p.is_dir() and p.name != "hashsets")
    result = run_scan(
        store,
        roots,
        EVIDENCE,
        list(SAMPLE_SETS),
        description="benign demo sample",
        acquired_by="kaitiaki serve --demo",
        actor="demo",
    )
    say(f"scanned the sample into evidence {EVIDENCE!r}: {result.records_written} records")


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


def demo_evidence_roots(config: OperationConfig) -> list[Path]:
    """What the demo's web may read: the folders its settings name (the benign sample and the
    simulated provider export). Not the folder itself: it holds the database and the keys."""
    roots = config.get("paths.evidence")
    return [Path(p) for p in roots] if isinstance(roots, tuple) else []


def prepare_demo(store: Store, folder: Path, say: Say = print) -> OperationConfig:
    """The demo operation folder around ``store``; its settings (the server takes its work
    folder, evidence roots and signing key from them, as from any operation folder)."""
    default = f"sqlite:///{(folder / 'kaitiaki.db').resolve()}"
    config = demo_folder(folder, db=None if store.url == default else store.url)
    _scan_sample(store, folder, say)
    analyse_demo_operation(store, folder, say, actor="demo")
    refer_demo_operation(store, folder, say, actor="demo")
    _admin(store, say)
    return config
