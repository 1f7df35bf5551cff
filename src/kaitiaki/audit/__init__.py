"""The hash-chained, append-only audit log: who did what to which record, when and why."""

from __future__ import annotations

from kaitiaki.audit.anchor import (
    Anchor,
    AnchorError,
    AnchorKeeper,
    keep_anchor,
    latest_anchor,
    read_anchor,
    take_anchor,
    write_anchor,
)
from kaitiaki.audit.log import GENESIS, cli_actor, entry_hash, record
from kaitiaki.audit.verify import AuditVerification, verify_log

__all__ = [
    "GENESIS",
    "Anchor",
    "AnchorError",
    "AnchorKeeper",
    "AuditVerification",
    "cli_actor",
    "entry_hash",
    "keep_anchor",
    "latest_anchor",
    "read_anchor",
    "record",
    "take_anchor",
    "verify_log",
    "write_anchor",
]
