"""Hostile VICS files are refused with the position and the reason, and never crash the process
(issue 12, finding 3). The old reader (ijson's yajl2_c backend) died with SIGSEGV on a 5,001-digit
integer and ran out of memory on 100,000 nested ``[``; the parse runs in a subprocess here so that
such a crash fails the test instead of ending the test run."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hashset_samples import v2_context
from hypothesis import given, settings
from hypothesis import strategies as st

from kaitiaki.content.boundedjson import (
    ANY_ITEM,
    BoundedJsonError,
    JsonLimits,
    iter_records,
    loads,
)
from kaitiaki.hashsets import HashSetFormatError
from kaitiaki.hashsets.vics import iter_vics_file

HOSTILE = Path(__file__).parents[1] / "hostile" / "files"
MD5 = "0123456789ABCDEF0123456789ABCDEF"
PARSE = """
import sys
from kaitiaki.hashsets import HashSetFormatError
from kaitiaki.hashsets.vics import iter_vics_file
try:
    list(iter_vics_file(sys.argv[1]))
except HashSetFormatError as exc:
    print("REFUSED", exc.where, "|", exc.reason)
"""


def _head() -> str:
    return '{"@odata.context":' + json.dumps(v2_context()) + ',"value":['


def _parse_in_a_subprocess(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the parser's process died: {done.returncode} {done.stderr}"
    assert done.stdout.startswith("REFUSED"), done.stdout + done.stderr
    return done.stdout


def test_a_5001_digit_integer_is_refused_with_its_position(tmp_path: Path) -> None:
    text = _head() + '{"MD5":"' + MD5 + '"},\n{"MD5":"' + MD5 + '","MediaID":' + "9" * 5001 + "}]}"
    path = tmp_path / "huge-integer.json"
    path.write_text(text)
    out = _parse_in_a_subprocess(path)
    assert "number longer than 100 characters" in out
    assert f"byte offset {text.index('9' * 100)}" in out
    assert "Media record #2" in out


def test_the_corpus_file_with_a_5001_digit_integer_is_refused() -> None:
    path = HOSTILE / "vics-5001-digit-integer.json"
    assert path.stat().st_size < 6000
    assert "number longer than" in _parse_in_a_subprocess(path)


def test_100000_nested_brackets_are_refused_with_their_depth(tmp_path: Path) -> None:
    head = _head() + '{"MD5":"' + MD5 + '","Tags":'
    path = tmp_path / "deep.json"
    text = head + "[" * 100_000 + "]" * 100_000 + "}]}"
    path.write_text(text)
    out = _parse_in_a_subprocess(path)
    assert "nesting deeper than 64" in out
    opened = [i for i, char in enumerate(text) if char in "[{"]  # none inside strings here
    assert f"byte offset {opened[64]} " in out  # the 65th open bracket


def test_in_process_errors_name_record_offset_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    text = _head() + '{"MD5":"' + MD5 + '"},' + "[" * 5000 + "]" * 5000 + "]}"
    path.write_text(text)
    with pytest.raises(HashSetFormatError, match="nesting deeper than 64") as caught:
        list(iter_vics_file(path))
    assert "after Media record #1" in caught.value.where
    assert "in Media record #2" in caught.value.where


@pytest.mark.parametrize(
    ("limits", "record", "reason"),
    [
        (JsonLimits(max_string_bytes=100), '{"MD5":"' + "a" * 101 + '"}', "string longer than 100"),
        (JsonLimits(max_record_bytes=200), '{"Tags":[' + "[1]," * 60 + "[1]]}", "larger than 200"),
        (JsonLimits(max_number_chars=10), '{"MediaSize":1.000000000001}', "number longer than 10"),
        (JsonLimits(max_depth=3), '{"a":[[[1]]]}', "nesting deeper than 3"),
    ],
)
def test_each_bound_is_enforced(limits: JsonLimits, record: str, reason: str) -> None:
    data = ('{"value":[{"MD5":"x"},' + record + "]}").encode()
    with pytest.raises(BoundedJsonError, match=reason) as caught:
        list(iter_records(io.BytesIO(data), ("value", ANY_ITEM), limits))
    assert caught.value.record == 2
    assert data.index(record.encode()) <= caught.value.offset < len(data)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"value":[{"a":1}{"a":2}]}', "',' or the end"),
        ('{"value":[{"a":1},]}', "where a value belongs"),
        ('{"value":[1]}', "must be a JSON object"),
        ('{"value":[{"a":NaN}]}', "NaN is not JSON"),
        ('{"value":[{"a":1}]} {}', "more data after the end"),
        ('{"value":[{"a":"1}]}', "ends inside a string"),
        ('{"value":[{"a":1}]', "ends before it is complete"),
        ('{"value":[{"a":1]]}', "invalid JSON"),
        ('{"x" 1,"value":[]}', "where ':' belongs"),
    ],
)
def test_malformed_structure_is_refused(text: str, reason: str) -> None:
    with pytest.raises(BoundedJsonError, match=reason):
        list(iter_records(io.BytesIO(text.encode()), ("value", ANY_ITEM)))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=5), max_size=6),
    st.integers(1, 64),
)
def test_records_read_back_as_json_writes_them(
    records: list[dict[str, object]], block: int
) -> None:
    document = json.dumps({"meta": {"n": [1, 2]}, "value": records}, indent=1).encode()
    stream = io.BufferedReader(io.BytesIO(document), buffer_size=block)
    got = [r.value for r in iter_records(stream, ("value", ANY_ITEM))]
    assert got == records


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_end_in_records_or_a_bounded_error(data: bytes) -> None:
    try:
        list(iter_records(io.BytesIO(b'{"value":[' + data), ("value", ANY_ITEM)))
        loads(data)
    except BoundedJsonError as exc:
        assert 0 <= exc.offset <= len(data) + 10
