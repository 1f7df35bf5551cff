"""Hash sets from outside (VICS JSON, plain lists, CSV): any input ends in entries or a
``HashSetFormatError`` that names the file and where in it; never a crash, hang or blow-up."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fuzz_sandbox import Sandbox
from fuzz_support import FUZZ, check_bytes, hostile_text, mutated
from hypothesis import given
from hypothesis import strategies as st

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
MD5 = "0123456789ABCDEF0123456789ABCDEF"


def _media(i: int) -> dict[str, Any]:
    return {
        "MediaID": i,
        "Category": i % 5,
        "MD5": f"{i:032X}",
        "SHA1": f"{i:040X}",
        "VictimIdentified": "true" if i % 2 else "false",
        "Series": f"series-{i}",
        "AlternativeHashes": [{"HashName": "SHA256", "HashValue": f"{i:064x}"}],
        "Tags": ["a", "b"],
    }


VICS_SEED = json.dumps({"@odata.context": CONTEXT, "value": [_media(i) for i in range(3)]}).encode()
PLAIN_SEED = (
    b"# a list\n"
    + b"0123456789abcdef0123456789abcdef\n"
    + b"0123456789abcdef0123456789abcdef01234567\n"
    + b"pdq:"
    + b"f" * 64
    + b"\n\n"
)
CSV_SEED = (
    b"MD5,SHA1,Category,Series,VictimIdentified\n"
    b"0123456789abcdef0123456789abcdef,,1,s1,true\n"
    b'0123456789abcdef0123456789abcdee,,2,"s,2",false\n'
)


@FUZZ
@given(data=mutated(VICS_SEED))
def test_vics_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "vics", data, ".json")


# JSON values as hostile files hold them, written as text so that numbers can be any length.
_leaves = st.one_of(
    st.sampled_from(["null", "true", "false", "{}", "[]"]),
    hostile_text().map(lambda t: json.dumps(t)),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.sampled_from(["1e999999", "-0.0", "1.5e-400", "123456789012345678901234567890.5"]),
)


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(_array),
        st.lists(st.tuples(hostile_text(12), inner), max_size=4).map(_object),
    ),
    max_leaves=12,
)
_FIELDS = ["MediaID", "MD5", "SHA1", "SHA256", "PDQ", "VPDQ", "Category", "Series"]
_FIELDS += ["VictimIdentified", "AlternativeHashes", "PhotoDNA", "IsSuspected", "Tags"]


@st.composite
def _vics_documents(draw: st.DrawFn) -> bytes:
    """Well-formed VICS with hostile values in every field, and nesting as deep as asked."""
    records = []
    for _ in range(draw(st.integers(1, 4))):
        pairs = [("MD5", json.dumps(MD5))] if draw(st.booleans()) else []
        for _ in range(draw(st.integers(0, 5))):
            pairs.append((draw(st.sampled_from(_FIELDS)), draw(_values)))
        records.append(_object(pairs))
    depth = draw(st.sampled_from([0, 0, 1, 64, 5000, 100_000]))
    if depth:
        records.append("[" * depth + "]" * depth)
    return (
        '{"@odata.context":' + json.dumps(CONTEXT) + ',"value":' + _array(records) + "}"
    ).encode()


@FUZZ
@given(data=_vics_documents())
def test_vics_structured(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "vics", data, ".json")


@FUZZ
@given(data=mutated(PLAIN_SEED))
def test_plain_list_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "hashset_plain", data, ".txt")


@FUZZ
@given(data=mutated(CSV_SEED))
def test_csv_hash_list_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "hashset_csv", data, ".csv")


@FUZZ
@given(rows=st.lists(st.lists(hostile_text(), min_size=1, max_size=6), max_size=6))
def test_csv_hash_list_hostile_cells(sandbox: Sandbox, rows: list[list[str]]) -> None:
    lines = ["MD5,Category,Series,MediaID"] + [",".join(row) for row in rows]
    check_bytes(sandbox, "hashset_csv", "\n".join(lines).encode("utf-8", "surrogateescape"), ".csv")


@pytest.mark.parametrize(
    ("target", "seed", "suffix", "summary"),
    [
        ("vics", VICS_SEED, ".json", "3 entries"),
        ("hashset_plain", PLAIN_SEED, ".txt", "3 entries"),
        ("hashset_csv", CSV_SEED, ".csv", "2 entries"),
    ],
)
def test_seeds_are_read(
    sandbox: Sandbox, target: str, seed: bytes, suffix: str, summary: str
) -> None:
    """The unmutated seeds parse: the mutations start from input the parser reads."""
    assert check_bytes(sandbox, target, seed, suffix).summary == summary
