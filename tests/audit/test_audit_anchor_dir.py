"""``kaitiaki audit verify --anchor-dir``: the newest of the anchors ``serve`` keeps."""

from __future__ import annotations

from pathlib import Path

from audit_samples import fill, raw
from test_audit_cli import audit

from kaitiaki.audit import keep_anchor
from kaitiaki.store import Store


def test_verify_against_the_newest_anchor_in_a_folder(sqlite_store: Store, tmp_path: Path) -> None:
    db = sqlite_store.url
    anchors = tmp_path / "anchors"
    empty = audit("verify", "--anchor-dir", str(anchors), "--db", db)
    assert empty.exit_code == 1 and "no anchor files" in empty.stderr
    fill(sqlite_store, 2, actor="alice")
    assert keep_anchor(sqlite_store, anchors) is not None
    fill(sqlite_store, 2, actor="bob")
    assert keep_anchor(sqlite_store, anchors) is not None
    assert audit("verify", "--anchor-dir", str(anchors), "--db", db).exit_code == 0
    # Only the newest anchor (entry 4) sees the last entry go.
    raw(sqlite_store, "DELETE FROM audit_events WHERE id = 4")
    caught = audit("verify", "--anchor-dir", str(anchors), "--db", db)
    assert caught.exit_code == 1 and "entry 4 is gone" in caught.stdout
