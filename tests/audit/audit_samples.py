"""Helpers for the audit tests: filling a log, tampering with it behind kaitiaki's back."""

from __future__ import annotations

import sys
from typing import Any

import sqlalchemy as sa

from kaitiaki.audit import record
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent


def cli(module: str) -> list[str]:
    """A command line for one CLI group, mounted as the lead will mount it in app.py."""
    return [
        sys.executable,
        "-c",
        f"import typer; from kaitiaki.cli.{module} import register; "
        "app = typer.Typer(); register(app); app()",
    ]


def fill(store: Store, n: int, *, actor: str = "alice", target: str = "S") -> None:
    """``n`` entries, each in its own transaction as real actions write them."""
    for i in range(1, n + 1):
        with store.session() as session:
            record(
                session,
                actor=actor,
                action="test.action",
                target_type="subject",
                target_id=f"{target}{i}",
                reason=f"reason {i} — ü",
                details={"i": i, "nested": {"b": [1, 2.5, None], "a": True}},
            )


def raw(store: Store, sql: str, **params: Any) -> None:
    """Tamper with the table directly, as someone with database access could."""
    with store.engine.begin() as connection:
        connection.execute(sa.text(sql), params)


def entries(store: Store) -> list[AuditEvent]:
    with store.session() as session:
        return list(session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))
