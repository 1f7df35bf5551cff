"""A received referral package, past its signature: the document a partner (or a forger with a
trusted key, or a bug in another kaitiaki) sends is hostile until parsed. Every input ends in a
received case or a clear PackageError/CaseError; never a crash, a hang or a half-stored case."""

from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fuzz_sandbox import Sandbox
from fuzz_support import FUZZ, check, check_bytes, mutated
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "receive"))
from package_samples import document

SEED = json.dumps(document(), indent=1).encode()


def _folder(package_json: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-received-"))
    (folder / "package.json").write_bytes(package_json)
    (folder / "events.csv").write_bytes(b"timestamp,account_id\n")
    return folder


def _check(sandbox: Sandbox, folder: Path) -> None:
    try:
        check(sandbox, "received_package", folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@FUZZ
@given(data=mutated(SEED))
def test_package_document_bytes(sandbox: Sandbox, data: bytes) -> None:
    _check(sandbox, _folder(data))


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=80),
    st.sampled_from(["", "1.0", "9.0", "1.999999", "S-" + "9" * 50, "../x", "\x00", "Z" * 300]),
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, (*prefix, i))
    return found


PATHS = _paths(document())[1:]


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), _leaf), min_size=1, max_size=4))
def test_package_document_values(
    sandbox: Sandbox, edits: list[tuple[tuple[Any, ...], Any]]
) -> None:
    """Valid JSON, wrong values where the schema and the store care: types, versions, widths."""
    doc = document()
    for path, value in edits:
        target: Any = doc
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    _check(sandbox, _folder(json.dumps(doc).encode()))


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


ZIP_SEED = _zip(
    {"KAI-US-1/package.json": SEED, "KAI-US-1/events.csv": b"a\n", "KAI-US-1/manifest.json": b"{}"}
)


@FUZZ
@given(data=mutated(ZIP_SEED))
def test_package_zip_bytes(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "received_package", data, ".zip")
