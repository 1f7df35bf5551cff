"""MD5, SHA-1 and SHA-256 in one pass agree with hashlib, however the bytes are chunked."""

from __future__ import annotations

import hashlib
import io
import itertools
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kaitiaki.scan.hasher import hash_path
from kaitiaki.signals.crypto import CHUNK, DigestAccumulator, digest_stream


def expected(data: bytes) -> tuple[str, str, str, int]:
    return (
        hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )


@given(st.binary(max_size=4096), st.lists(st.integers(0, 4096), max_size=8))
def test_accumulator_matches_hashlib_for_any_chunking(data: bytes, cuts: list[int]) -> None:
    accumulator = DigestAccumulator()
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        accumulator.update(data[start:end])
    result = accumulator.finish()
    assert (result.md5, result.sha1, result.sha256, result.size) == expected(data)


@given(st.binary(max_size=4096))
def test_digest_stream_matches_hashlib(data: bytes) -> None:
    result = digest_stream(io.BytesIO(data))
    assert (result.md5, result.sha1, result.sha256, result.size) == expected(data)


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=1, max_size=2048), st.integers(0, 3))
def test_hash_path_digests_across_chunk_boundaries(head: bytes, repeats: int) -> None:
    # Past one CHUNK the hasher reads in several pieces; the digests must not notice.
    data = head * (CHUNK // len(head) * repeats + 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.bin"
        path.write_bytes(data)
        # The file's own record comes first; bytes that happen to open with a container's
        # magic (hypothesis found QCOW's "QFI\xfb") add records for its inside after it.
        record = next(iter(hash_path(path)))
    assert str(record.path) == str(path)
    assert (record.md5, record.sha1, record.sha256, record.size) == expected(data)
