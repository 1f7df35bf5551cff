"""Acquisition hashes checked against the bytes read: an E01's stored MD5/SHA-1, or a SHA-256
the examiner was given with a file or folder.

An E01 is verified only when every digest it stores equals the digest of the media libewf reads
*and* its chunks hold no byte beyond that media (``content.ewfchunks``): a 4,097-byte source is
stored as 8 sectors of 512, libewf reads 4,096, and ewfacquire's MD5 covers 4,097; such an image
is a mismatch, with the sizes in ``detail``. A read that stops on a damaged chunk is a mismatch
too: the digests of part of the media prove nothing about the whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaitiaki.content.diskimage import DiskImageError, ewf_reader, libewf_reason, open_ewf
from kaitiaki.content.ewfchunks import chunk_data

VERIFIED = "verified"
MISMATCH = "mismatch"
NO_STORED_HASH = "no stored hash"
STATUSES = (VERIFIED, MISMATCH, NO_STORED_HASH)

METHOD_EWF = "E01 stored hash"
METHOD_FILE = "SHA-256 of file"
METHOD_FOLDER = "SHA-256 of folder listing"

# Read in blocks of whole libewf chunks (32 KiB by default): few calls, flat memory.
READ_BLOCK = 4 << 20
# The algorithms an E01 may store, by libewf's name, as hashlib knows them.
_EWF_ALGORITHMS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256"}

# (bytes done, bytes in all): called after each block read.
ByteProgress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class MediaCheck:
    """One check's outcome; ``expected`` and ``computed`` map algorithm to lower-case hex."""

    method: str
    status: str
    expected: dict[str, str] | None
    computed: dict[str, str] | None
    media_size: int | None
    detail: str = ""


def compare(expected: dict[str, str], computed: dict[str, str]) -> str:
    """``verified`` only when every expected digest was computed and equals it."""
    if not expected:
        return NO_STORED_HASH
    same = all(computed.get(algo) == value.lower() for algo, value in expected.items())
    return VERIFIED if same else MISMATCH


def verify_ewf(path: Path, on_bytes: ByteProgress | None = None) -> MediaCheck:
    """Read the media of the E01 set starting at ``path`` once, and check its stored hashes."""
    if ewf_reader() is None:
        reason = "reading an E01 needs pyewf (PyPI libewf-python), which is not installed"
        return MediaCheck(METHOD_EWF, MISMATCH, None, None, None, f"not checked: {reason}")
    with ExitStack() as stack:
        stream = stack.enter_context(path.open("rb"))
        try:
            handle = open_ewf(stream, stack, path)
        except DiskImageError as exc:
            return MediaCheck(METHOD_EWF, MISMATCH, None, None, None, f"not checked: {exc}")
        stored = _stored_hashes(handle)
        media_size = int(handle.get_media_size())
        digests, read, stopped = _digest_media(handle, media_size, stored, on_bytes)
        geometry = (int(handle.get_number_of_sectors()), int(handle.get_bytes_per_sector()))
        held = chunk_data(
            [Path(n) for n in _segment_names(path)], int(handle.get_chunk_size()), media_size
        )
    computed = {algo: d.hexdigest() for algo, d in digests.items()}
    status = compare(stored, computed)
    notes: list[str] = []
    if stopped:
        # Digests of part of the media prove nothing about the whole: never "verified".
        status, computed = (MISMATCH if stored else NO_STORED_HASH), {}
        notes.append(f"read stopped at byte {read:,} of {media_size:,}: {stopped}")
    elif held is not None and held.size != media_size:
        status = MISMATCH if stored else NO_STORED_HASH
        sectors, per_sector = geometry
        notes.append(
            f"media size differs: the chunks hold {held.size:,} bytes, the volume section "
            f"declares {media_size:,} ({sectors:,} sectors of {per_sector:,} bytes) and libewf "
            f"reads {media_size:,}"
        )
        if held.tail and stored:
            notes.append(_tail_note(digests, stored, media_size, held.tail))
    elif status == MISMATCH:
        notes.append("the media read differs from the media acquired")
    if not stored:
        notes.append("the E01 stores no MD5 or SHA-1 of the media (no hash or digest section)")
    return MediaCheck(
        METHOD_EWF, status, stored or None, computed or None, media_size, "; ".join(notes)
    )


def _stored_hashes(handle: Any) -> dict[str, str]:
    values = handle.get_hash_values() or {}
    return {
        _EWF_ALGORITHMS[name.upper()]: str(value).lower()
        for name, value in values.items()
        if name.upper() in _EWF_ALGORITHMS and value
    }


def _digest_media(
    handle: Any, media_size: int, stored: dict[str, str], on_bytes: ByteProgress | None
) -> tuple[dict[str, Any], int, str]:
    """MD5, SHA-1 (and any other stored algorithm) of the media; bytes read; why it stopped."""
    digests = {algo: hashlib.new(algo) for algo in sorted({"md5", "sha1", *stored})}
    offset = 0
    while offset < media_size:
        want = min(READ_BLOCK, media_size - offset)
        try:
            block: bytes = handle.read_buffer_at_offset(want, offset)
        except (OSError, RuntimeError, ValueError) as exc:
            return digests, offset, libewf_reason(exc)
        if not block:
            return digests, offset, "libewf returned no data before the end of the media"
        for digest in digests.values():
            digest.update(block)
        offset += len(block)
        if on_bytes is not None:
            on_bytes(offset, media_size)
    return digests, offset, ""


def _segment_names(path: Path) -> list[str]:
    pyewf = ewf_reader()
    try:
        names = [str(n) for n in pyewf.glob(str(path))] if pyewf is not None else []
    except (OSError, MemoryError):
        names = []
    return names or [str(path)]


def _tail_note(
    digests: dict[str, Any], stored: dict[str, str], media_size: int, tail: bytes
) -> str:
    """Whether the stored digests cover the media read plus the bytes beyond its sectors."""
    longer = {algo: digests[algo].copy() for algo in stored}
    for digest in longer.values():
        digest.update(tail)
    acquired = media_size + len(tail)
    if all(longer[algo].hexdigest() == value for algo, value in stored.items()):
        return (
            f"the stored digests cover all {acquired:,} bytes acquired, of which the last "
            f"{len(tail):,} lie beyond the media libewf reads (and the scan examines)"
        )
    return (
        f"the stored digests match neither the {media_size:,} bytes read "
        f"nor the {acquired:,} acquired"
    )
