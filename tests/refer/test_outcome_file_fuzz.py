"""Hostile outcome files: whatever the bytes, or whatever a signed document holds, reading one
ends in a result or a clear refusal (OutcomeFileError, EnvelopeError), never another exception."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from outcome_samples import document, key, step

from kaitiaki.refer.envelope import OUTCOME_TYPE, EnvelopeError, seal
from kaitiaki.refer.outcome_file import OutcomeFileError, read_outcome_file

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAME = Path("fuzz.json")
STEPS = [
    step("received", "2026-11-02"),
    step("arrest", "2026-11-21", "S1", 2),
    step("no_further_action", "2026-11-25", "S2", reason="insufficient evidence"),
]


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ed25519PrivateKey, Path]:
    return key(tmp_path_factory.mktemp("keys"), "partner")


def _read(data: bytes, pinned: Path) -> None:
    with contextlib.suppress(OutcomeFileError, EnvelopeError):
        read_outcome_file(NAME, store=None, pinned=pinned, data=data)


def test_the_unmutated_file_reads(signer: tuple[Ed25519PrivateKey, Path]) -> None:
    # Else every mutation below would be refused for a reason of the harness's own.
    data = seal(document(STEPS), OUTCOME_TYPE, signer[0])
    assert len(read_outcome_file(NAME, store=None, pinned=signer[1], data=data).steps) == 3


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*at, i))
    return found


@FUZZ
@given(data=st.data())
def test_a_signed_document_with_any_value_anywhere(
    signer: tuple[Ed25519PrivateKey, Path], data: st.DataObject
) -> None:
    private, public = signer
    doc = json.loads(json.dumps(document(STEPS)))
    where = data.draw(st.sampled_from(_paths(doc)[1:]))
    target = doc
    for part in where[:-1]:
        target = target[part]
    if data.draw(st.booleans()):
        target[where[-1]] = data.draw(_json)
    elif isinstance(target, dict):
        del target[where[-1]]
    else:
        target.pop(where[-1])
    _read(seal(doc, OUTCOME_TYPE, private), public)


@FUZZ
@given(cut=st.integers(min_value=0), flip=st.integers(min_value=0), junk=st.binary(max_size=40))
def test_mutated_envelope_bytes(
    signer: tuple[Ed25519PrivateKey, Path], cut: int, flip: int, junk: bytes
) -> None:
    private, public = signer
    genuine = bytearray(seal(document(STEPS), OUTCOME_TYPE, private))
    at = flip % len(genuine)
    genuine[at] ^= 0x01
    mutated = bytes(genuine[: cut % (len(genuine) + 1)]) + junk
    _read(mutated, public)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(signer: tuple[Ed25519PrivateKey, Path], data: bytes) -> None:
    _read(data, signer[1])
