"""Anchors: the log's head written down outside the database.

A hash chain cannot show that its newest entries were deleted, nor that it was rewritten
wholesale with fresh hashes: what is left is still a valid chain. An anchor closes that gap
for everything up to the moment it was taken. ``kaitiaki audit anchor -o FILE`` writes the
head's id, hash and time; a supervisor keeps the file somewhere the database's writers cannot
reach (another machine, a signed e-mail, paper). ``kaitiaki audit verify --anchor FILE`` then
checks that the entry is still in the log with that hash. Entries written after the anchor
are protected only by the chain until the next anchor is taken, so take anchors regularly.
The anchor is only as trustworthy as the place it is kept.

``kaitiaki serve --anchor-dir DIR`` takes them on a schedule (``AnchorKeeper``): a file per new
head, ``anchor-<id>.json``, every ``--anchor-every`` minutes; the web's "Verify the log" checks
the newest one. Point DIR at storage the database's writers cannot change (another machine's
share, an append-only or WORM mount) and copy the files away regularly.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from kaitiaki.audit.log import canonical_at
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent

ANCHOR_FORMAT = "kaitiaki-audit-anchor/1"
# Zero-padded, so the newest anchor is the last file name in sorted order.
_FILE = "anchor-{:012d}.json"
_GLOB = "anchor-*.json"
log = logging.getLogger(__name__)


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


def latest_anchor(directory: Path) -> tuple[Path, Anchor] | None:
    """The newest anchor file in ``directory`` (by anchored id) and its anchor; None when
    there is none yet. A newest file that cannot be read raises ``AnchorError``: a damaged
    anchor must be seen, not skipped for an older one."""
    try:
        names = sorted(p.name for p in directory.glob(_GLOB) if p.is_file())
    except OSError as exc:
        raise AnchorError(f"{directory}: cannot list the anchors ({exc})") from None
    if not names:
        return None
    path = directory / names[-1]
    return path, read_anchor(path)


def keep_anchor(store: Store, directory: Path) -> Path | None:
    """Write the head's anchor into ``directory`` unless the newest file already anchors it;
    the path written, or None (nothing new, or an empty log). Refuses (``AnchorError``) when
    the entry the newest file anchors is gone or changed."""
    try:
        head = take_anchor(store)
    except AnchorError:
        return None
    latest = latest_anchor(directory)
    if latest is not None:
        if latest[1].id == head.id and latest[1].hash == head.hash:
            return None
        # Anchoring a log that no longer holds the last anchored entry would bury the evidence:
        # the newest anchor is the one verification checks.
        with store.session() as session:
            kept = session.get(AuditEvent, latest[1].id)
            if kept is None or kept.hash != latest[1].hash:
                raise AnchorError(
                    f"the log no longer holds entry {latest[1].id} as {latest[0].name} anchored"
                    " it; no new anchor is taken until this is investigated"
                )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / _FILE.format(head.id)
    # Written whole or not at all: a half-written newest anchor would fail every verification.
    partial = path.with_suffix(".part")
    write_anchor(head, partial)
    partial.replace(path)
    return path


class AnchorKeeper:
    """A thread taking an anchor into ``directory`` at start, every ``every``, and at stop."""

    def __init__(self, store: Store, directory: Path, every: timedelta) -> None:
        self.store = store
        self.directory = directory
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-anchors", daemon=True)

    def keep(self) -> Path | None:
        try:
            return keep_anchor(self.store, self.directory)
        except (AnchorError, OSError, SQLAlchemyError):
            # The server keeps serving; the web verification names the newest anchor and its
            # time, so a schedule that stopped working shows there.
            log.exception("could not write an audit anchor into %s", self.directory)
            return None

    def _run(self) -> None:
        while not self._stop.wait(self.every.total_seconds()):
            self.keep()

    def start(self) -> None:
        # A folder that cannot be made stops the server here, rather than silently later.
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keep()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.keep()
