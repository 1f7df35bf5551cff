"""Anchors: the log's head written down outside the database.

A hash chain cannot show that its newest entries were deleted, nor that it was rewritten
wholesale with fresh hashes: what is left is still a valid chain. An anchor closes that gap
for everything up to the moment it was taken. ``kaitiaki audit anchor -o FILE`` writes the
head's id, hash and time; a supervisor keeps the file somewhere the database's writers cannot
reach (another machine, a signed e-mail, paper). ``kaitiaki audit verify --anchor FILE`` then
checks that the entry is still in the log with that hash. Entries written after the anchor
are protected only by the chain until the next anchor is taken, so take anchors regularly.
The anchor is only as trustworthy as the place it is kept.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select

from kaitiaki.audit.log import canonical_at
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent

ANCHOR_FORMAT = "kaitiaki-audit-anchor/1"


class AnchorError(ValueError):
    """An anchor that cannot be taken or read."""


@dataclass(frozen=True)
class Anchor:
    id: int
    hash: str
    at: str

    def to_json(self) -> str:
        return json.dumps({"format": ANCHOR_FORMAT, **asdict(self)}, indent=2) + "\n"


def take_anchor(store: Store) -> Anchor:
    """The current head of the log."""
    with store.session() as session:
        head = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
        if head is None:
            raise AnchorError("the audit log is empty; there is nothing to anchor yet")
        return Anchor(head.id, head.hash, canonical_at(head.at))


def write_anchor(anchor: Anchor, path: Path) -> None:
    path.write_text(anchor.to_json(), encoding="utf-8")


def read_anchor(path: Path) -> Anchor:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AnchorError(f"{path}: cannot read the anchor ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
        raise AnchorError(f"{path}: not a kaitiaki audit anchor")
    id_, hash_, at = data.get("id"), data.get("hash"), data.get("at")
    if not isinstance(id_, int) or not isinstance(hash_, str) or len(hash_) != 64:
        raise AnchorError(f"{path}: the anchor lacks a valid id and hash")
    return Anchor(id_, hash_, str(at))
