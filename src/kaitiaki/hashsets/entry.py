"""The plain values every hash-set format reads into and writes from, and their normalisation.

Inside kaitiaki hex digests are lowercase; formats that distribute them otherwise (VICS writes
MD5 and SHA-1 uppercase) convert at their own edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from kaitiaki.signals import MD5, PDQ, SHA1, SHA256

HashKind = Literal["md5", "sha1", "sha256", "pdq"]
# What a bare 64-hex value is, when the user has said (``--hex64``); None: not said.
Hex64 = Literal["sha256", "pdq"]

# Length of each digest in hex characters, from its signal type. SHA-256 and PDQ are both 64:
# a bare 64-hex value is ambiguous and is never guessed (see ``classify_hash``).
HEX_LENGTHS: dict[HashKind, int] = {
    "md5": MD5.hex_length,
    "sha1": SHA1.hex_length,
    "sha256": SHA256.hex_length,
    "pdq": PDQ.hex_length,
}
_HEX = re.compile(r"[0-9a-fA-F]+")

# Column widths of ``hash_set_entries``; longer values are refused rather than truncated (and
# PostgreSQL would refuse them anyway, half-way through an import).
MAX_MEDIA_ID = 100
MAX_SERIES = 200
MAX_CATEGORY = 20


@dataclass(frozen=True, slots=True)
class Entry:
    """One known item of a hash set: its signals, category and victim-identification flags.

    ``category`` is the profile's code as text ("0" is a real category, never "no category").
    ``extra`` keeps what a format carries beyond these fields (for VICS: Tags, Comments,
    MediaSize, Exifs, ... under their VICS names) so that an export can write it back.
    """

    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    photodna: str | None = None
    media_id: str | None = None
    category: str | None = None
    series: str | None = None
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    is_distributed: bool | None = None
    # vPDQ frames of a video entry: [frame, quality, 64-hex, seconds] each (kaitiaki's own sets).
    vpdq: list[list[Any]] | None = None
    # The robust signal's signature (sets made from images kaitiaki scanned; never exported).
    robust: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def single(kind: HashKind, digest: str) -> Entry:
        """An entry with one digest, as plain lists give them."""
        return Entry(
            md5=digest if kind == "md5" else None,
            sha1=digest if kind == "sha1" else None,
            sha256=digest if kind == "sha256" else None,
            pdq=digest if kind == "pdq" else None,
        )

    def hashes(self) -> dict[HashKind, str]:
        found: dict[HashKind, str | None] = {
            "md5": self.md5,
            "sha1": self.sha1,
            "sha256": self.sha256,
            "pdq": self.pdq,
        }
        return {k: v for k, v in found.items() if v is not None}


class Parsed(NamedTuple):
    """An entry and where it came from in its file ("line 12", "row 3", "Media record #7")."""

    entry: Entry
    where: str


class HashSetError(Exception):
    """A hash-set operation the user asked for cannot be done (the message says why)."""


class HashSetExistsError(HashSetError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"a hash set named {name!r} already exists; remove it first or choose another name"
        )


class HashSetMissingError(HashSetError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no hash set named {name!r} (see 'kaitiaki hashset list')")


class HashSetFormatError(HashSetError):
    """A file that cannot be imported: which file, where in it, and why. Nothing was stored."""

    def __init__(self, path: Path | str, where: str, reason: str) -> None:
        self.path = str(path)
        self.where = where
        self.reason = reason
        super().__init__(f"{self.path}: {where}: {reason}" if where else f"{self.path}: {reason}")


class EntryError(ValueError):
    """One value of one entry is invalid; the reader adds the file and the position."""


# How the command line settles a bare 64-hex value; the web names its own field instead.
HEX64_CHOICE = "--hex64 sha256 or --hex64 pdq"


def undecided_reason(choice: str = HEX64_CHOICE, *, column: bool = False) -> str:
    """Why a bare 64-hex value is refused, and the ways to say what it is."""
    header = ", or name the column sha256 or pdq" if column else ""
    return (
        f"64 hex digits can be a SHA-256 or a PDQ hash; say which with {choice} "
        f"(or prefix the value sha256:/pdq:{header})"
    )


class AmbiguousHexError(EntryError):
    """A bare 64-hex value and nothing (prefix, column, ``--hex64``) to say what it is."""

    def __init__(self, *, column: bool = False) -> None:
        self.column = column
        super().__init__(undecided_reason(column=column))


class Hex64UndecidedError(HashSetFormatError):
    """A file with a bare 64-hex value that could be a SHA-256 or a PDQ hash. Nothing was
    stored: a PDQ list read as SHA-256 would import without a word and never match."""

    def __init__(self, path: Path | str, where: str, *, column: bool = False) -> None:
        self.column = column
        super().__init__(path, where, undecided_reason(column=column))

    def told(self, shown: str, choice: str) -> str:
        """The message naming the file as ``shown`` and the choice as the caller offers it."""
        return f"{shown}: {self.where}: {undecided_reason(choice, column=self.column)}"


def format_error(path: Path | str, where: str, exc: EntryError) -> HashSetFormatError:
    """A reader's error for ``exc`` at ``where`` in ``path``."""
    if isinstance(exc, AmbiguousHexError):
        return Hex64UndecidedError(path, where, column=exc.column)
    return HashSetFormatError(path, where, str(exc))


def normalise_hex(value: Any, kind: HashKind, field_name: str | None = None) -> str | None:
    """``value`` as lowercase hex of the length ``kind`` needs; None for null or empty."""
    label = field_name or kind.upper()
    if value is None:
        return None
    if not isinstance(value, str):
        raise EntryError(f"{label} must be a hex string, not {type(value).__name__} {value!r}")
    text = value.strip()
    if not text:
        return None
    if len(text) != HEX_LENGTHS[kind] or not _HEX.fullmatch(text):
        raise EntryError(f"{label} {_show(text)} is not {HEX_LENGTHS[kind]} hex digits")
    return text.lower()


def hash_kind(name: str, what: str = "hash kind") -> HashKind:
    """``md5``, ``SHA-1``, ``sha256``, ``PDQ`` ... as a kind (case, ``-``, ``_`` and spaces
    ignored); ``EntryError`` naming the known ones otherwise."""
    kind = "".join(ch for ch in name.strip().lower() if ch not in "-_ ")
    for known in HEX_LENGTHS:
        if kind == known:
            return known
    raise EntryError(f"unknown {what} {name!r} (use md5, sha1, sha256 or pdq)")


def classify_hash(
    value: str, *, hex64: Hex64 | None = None, column: bool = False
) -> tuple[HashKind, str]:
    """The kind of a hex digest, told by a ``kind:`` prefix or else by its length.

    A prefix (``md5:``, ``sha1:``, ``sha256:``, ``pdq:``, any case) settles the kind, and is
    the only way to mix SHA-256 and PDQ in one list. A bare 64-hex value is ``hex64``; when
    the caller has not said, ``AmbiguousHexError`` (``column``: the value came from a CSV column,
    whose header could have said).
    """
    text = value.strip()
    prefix, sep, rest = text.partition(":")
    if sep:
        kind = hash_kind(prefix)
        checked = normalise_hex(rest, kind)
        if checked is None:
            raise EntryError(f"empty {prefix} hash")
        return kind, checked
    if not _HEX.fullmatch(text):
        raise EntryError(f"{_show(text)} is not a hex digest")
    by_length: dict[int, HashKind] = {32: "md5", 40: "sha1"}
    if len(text) == HEX_LENGTHS["sha256"]:
        if hex64 is None:
            raise AmbiguousHexError(column=column)
        return hex64, text.lower()
    found = by_length.get(len(text))
    if found is None:
        raise EntryError(
            f"{len(text)} hex digits is no known digest (MD5 32, SHA-1 40, SHA-256/PDQ 64)"
        )
    return found, text.lower()


def typed_hex(value: str, kind: HashKind, field_name: str | None = None) -> str | None:
    """A value of a column that names its kind (``md5``, ``pdq``, ...): a ``kind:`` prefix is
    allowed when it agrees; None for an empty cell."""
    prefix, sep, rest = value.partition(":")
    if sep:
        named = hash_kind(prefix)
        if named != kind:
            raise EntryError(f"{field_name or kind} column holds a {named} value ({prefix}:)")
        value = rest
    return normalise_hex(value, kind, field_name)


_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})


def parse_bool(value: Any, field_name: str) -> bool | None:
    """A flag given as a JSON boolean, 0/1 or a string such as "true"/"False"; None if absent."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise EntryError(f"{field_name} {_show(value)} is not a boolean")


def parse_category(value: Any) -> str | None:
    """A category code as text: 0 stays "0" (a real category); null and "" are no category."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EntryError(f"Category {_show(value)} is not a category code")
    if isinstance(value, float):
        if not value.is_integer():
            raise EntryError(f"Category {value!r} is not a category code")
        value = int(value)
    text = str(value).strip()
    if not text:
        return None
    if len(text) > MAX_CATEGORY:
        raise EntryError(f"Category {_show(text)} is longer than {MAX_CATEGORY} characters")
    return text


def parse_vpdq(value: Any) -> list[list[Any]] | None:
    """vPDQ frames as [frame, quality, hex, seconds] lists; None when absent."""
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise EntryError("VPDQ must be a list of [frame, quality, hex, seconds]")
    frames: list[list[Any]] = []
    for number, item in enumerate(value, 1):
        if not isinstance(item, list) or len(item) != 4:
            raise EntryError(f"VPDQ frame #{number} is not [frame, quality, hex, seconds]")
        frame, quality, digest, seconds = item
        if not isinstance(frame, int) or not isinstance(quality, int) or quality not in range(101):
            raise EntryError(f"VPDQ frame #{number} has a bad frame number or quality")
        if not isinstance(seconds, int | float):
            raise EntryError(f"VPDQ frame #{number} has no timestamp in seconds")
        checked = normalise_hex(digest, "pdq", f"VPDQ frame #{number}")
        frames.append([frame, quality, checked, float(seconds)])
    return frames


def bounded_text(value: Any, field_name: str, limit: int) -> str | None:
    """A short text field (MediaID, Series): numbers become text, over-long values are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EntryError(f"{field_name} {_show(value)} is not text")
    text = str(value).strip()
    if not text:
        return None
    if len(text) > limit:
        raise EntryError(f"{field_name} is longer than {limit} characters: {_show(text)}")
    return text


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
