"""The walker: every regular file once, every oddity recorded with its reason."""

from __future__ import annotations

import os
from pathlib import Path

from kaitiaki.scan.walk import walk


def _by_name(root: Path) -> dict[str, str | None]:
    return {os.fsdecode(e.path.relative_to(root)): e.error for e in walk([root])}


def test_regular_files_in_stable_order(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt", "sub/c.txt", "sub/deeper/d.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    found = [e.path.relative_to(tmp_path).as_posix() for e in walk([tmp_path])]
    assert found == ["a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt"]
    assert all(e.error is None for e in walk([tmp_path]))


def test_symlink_loop_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "real.txt").write_text("x")
    entries = _by_name(tmp_path)
    assert entries["a"] == "symlink loop"
    assert entries["b"] == "symlink loop"
    assert entries["real.txt"] is None


def test_folder_link_back_to_an_ancestor_is_not_walked_twice(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "f.txt").write_text("x")
    (tmp_path / "dir" / "up").symlink_to(tmp_path)
    entries = _by_name(tmp_path)
    assert list(entries) == ["dir/f.txt", "dir/up"]
    assert "symlink loop" in (entries["dir/up"] or "")


def test_folder_link_to_a_sibling_is_walked_only_at_its_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.txt").write_text("x")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    entries = _by_name(tmp_path)
    assert list(entries) == ["alias", "real/f.txt"]
    assert "walked at its target" in (entries["alias"] or "")


def test_links_outside_the_evidence_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("examiner's own file")
    (root / "escape").symlink_to(outside)
    (root / "dangling").symlink_to(root / "missing")
    entries = _by_name(root)
    assert "outside the evidence" in (entries["escape"] or "")
    assert entries["dangling"] == "broken symlink"


def test_link_to_a_file_inside_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("x")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "real.txt")
    assert _by_name(tmp_path) == {"alias.txt": None, "real.txt": None}


def test_special_files_and_non_utf8_names(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"latin-1 name")
    entries = list(walk([tmp_path]))
    errors = {os.fsencode(e.path.name): e.error for e in entries}
    assert "not a regular file" in (errors[b"pipe"] or "")
    assert errors[b"caf\xe9.txt"] is None
