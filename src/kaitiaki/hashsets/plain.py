"""Plain hash lists: one digest a line (MD5, SHA-1, SHA-256 or PDQ), told apart by length.

Blank lines and ``#`` comments are allowed; anything else is an error naming the line. SHA-256
and PDQ are both 64 hex digits, so a bare 64-hex line is read as ``hex64`` (SHA-256 unless the
caller says PDQ); a ``pdq:`` or ``sha256:`` prefix settles a single line either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal, TextIO

from kaitiaki.hashsets.entry import (
    Entry,
    EntryError,
    HashSetFormatError,
    Parsed,
    classify_hash,
)

Hex64 = Literal["sha256", "pdq"]
_PREFERENCE = ("md5", "sha1", "sha256", "pdq")


def read_plain(path: Path, lines: Iterable[str], *, hex64: Hex64 = "sha256") -> Iterator[Parsed]:
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
                raise HashSetFormatError(path, where, str(exc)) from None
            yield Parsed(Entry.single(kind, value), where)
    except UnicodeDecodeError as exc:
        # Text is decoded a block ahead of the lines handed out: the line is approximate.
        raise HashSetFormatError(
            path, f"after line {number}", f"not UTF-8 text ({exc.reason})"
        ) from None


def export_plain(entries: Iterable[Entry], out: TextIO, *, title: str = "") -> int:
    """One digest per entry (MD5, else SHA-1, SHA-256, PDQ); PDQ lines carry ``pdq:``."""
    if title:
        out.write(f"# {title}\n")
    count = 0
    for entry in entries:
        hashes = entry.hashes()
        kind = next((k for k in _PREFERENCE if k in hashes), None)
        if kind is None:
            continue  # nothing a plain list can carry (a PhotoDNA-only entry)
        out.write(f"pdq:{hashes[kind]}\n" if kind == "pdq" else f"{hashes[kind]}\n")
        count += 1
    return count
