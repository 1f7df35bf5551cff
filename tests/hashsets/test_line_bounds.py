"""Plain and CSV hash lists read line by line within a bound: a file of one endless line is
refused with its line number, never read whole (issue 12, finding 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaitiaki.hashsets import HashSetFormatError
from kaitiaki.hashsets import store as hs
from kaitiaki.hashsets.source import MAX_LINE_CHARS
from kaitiaki.store import Store

MD5 = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("name", "head"),
    [("list.txt", MD5 + "\n" + MD5 + "\n"), ("list.csv", "md5,series\n" + MD5 + ",a\n")],
)
def test_an_endless_line_is_refused_with_its_number(
    store: Store, tmp_path: Path, name: str, head: str
) -> None:
    path = tmp_path / name
    with path.open("w") as out:
        out.write(head)
        out.write("f" * (MAX_LINE_CHARS + 10))  # one line, no end, past the bound
        out.write("\n" + MD5 + "\n")
    with pytest.raises(HashSetFormatError, match=f"longer than {MAX_LINE_CHARS}") as caught:
        hs.import_hash_set(store, path, "endless", actor="cli:tester")
    assert caught.value.where in ("line 3", "row 2 (line 3)")
    assert hs.list_hash_sets(store) == []


def test_a_line_just_within_the_bound_is_read(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(MD5 + "\n# " + "x" * (MAX_LINE_CHARS - 3) + "\n" + MD5.upper() + "\r\n")
    row = hs.import_hash_set(store, path, "within", actor="cli:tester")
    assert row.entry_count == 2  # entries as listed, the long comment between them skipped
