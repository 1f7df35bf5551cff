"""Plain hash lists: one digest a line (MD5, SHA-1, SHA-256 or PDQ), told apart by length.

Blank lines and ``#`` comments are allowed; anything else is an error naming the line. SHA-256
and PDQ are both 64 hex digits, so a bare 64-hex line is read as ``hex64`` when the caller says
which (``--hex64 sha256|pdq``) and refused otherwise, naming the line and both readings: a PDQ
list read as SHA-256 would import without a word and never match. A ``pdq:`` or ``sha256:``
prefix (any case) settles a single line either way; kaitiaki's own lists carry one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from kaitiaki.hashsets.entry import (
    Entry,
    EntryError,
    HashSetFormatError,
    Hex64,
    Parsed,
    classify_hash,
    format_error,
)

__all__ = ["Hex64", "export_plain", "read_plain"]
_PREFERENCE = ("md5", "sha1", "sha256", "pdq")
# Kinds a plain list writes with their prefix: the two that are both 64 hex digits.
_PREFIXED = frozenset({"sha256", "pdq"})


def read_plain(path: Path, lines: Iterable[str], *, hex64: Hex64 | None = None) -> Iterator[Parsed]:
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            where = f"line {number}"
            try:
                kind, value = classify_hash(text, hex64=hex64)
            except EntryError as exc:
                raise format_error(path, where, exc) from None
            yield Parsed(Entry.single(kind, value), where)
    except UnicodeDecodeError as exc:
        # Text is decoded a block ahead of the lines handed out: the line is approximate.
        raise HashSetFormatError(
            path, f"after line {number}", f"not UTF-8 text ({exc.reason})"
        ) from None


def export_plain(entries: Iterable[Entry], out: TextIO, *, title: str = "") -> int:
    """One digest per entry (MD5, else SHA-1, SHA-256, PDQ); SHA-256 and PDQ lines carry
    ``sha256:`` and ``pdq:``, so the list reads back without ``--hex64``."""
    if title:
        out.write(f"# {title}\n")
    count = 0
    for entry in entries:
        hashes = entry.hashes()
        kind = next((k for k in _PREFERENCE if k in hashes), None)
        if kind is None:
            continue  # nothing a plain list can carry (a PhotoDNA-only entry)
        out.write(f"{kind}:{hashes[kind]}\n" if kind in _PREFIXED else f"{hashes[kind]}\n")
        count += 1
    return count
