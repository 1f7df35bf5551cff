"""What an import met that the profile does not define, and the user's map for it.

Real hash sets carry codes outside any profile: NIST's NSRL "CAID" files (VICS 1.2, benign) grade
every record ``8``. Refusing such a file whole helps no one, and guessing what the code means
would be worse, so each entry keeps its code as written, the summary counts it, and the set
treats it as not pertinent and never ignorable (``CategoryProfile.is_pertinent``) unless the
user maps it onto one of the profile's own codes: ``--category-map 8=0``, repeatable, or the
same ``FROM=TO`` lines in a file (``--category-map-file``). Only codes the profile does not
define can be mapped: a map must never re-grade what the profile already names.

A mapped entry stores the profile's code and keeps the code it was written with in
``extra["SourceCategory"]``, so the file's own grading is never lost (and an export carries it).

The summary also counts the entries read and the signal types they carry (``SignalCounts``):
every import says them, so a list read as the wrong type shows at once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaitiaki.hashsets.entry import MAX_CATEGORY, Entry, HashSetError
from kaitiaki.hashsets.profiles import CategoryProfile, UnknownCategoryError

SOURCE_CATEGORY = "SourceCategory"
# A map file is a handful of lines; anything this large is not one.
MAX_MAP_FILE = 64 << 10
_AROUND_EQUALS = re.compile(r"\s*=\s*")


class CategoryMapError(HashSetError):
    """A ``--category-map`` item or map file that cannot be used (the message says why)."""


def split_map_text(text: str) -> list[str]:
    """``"8=0, 9=0"`` or one item a line (``#`` comments) as a list of ``FROM=TO`` items."""
    items: list[str] = []
    for line in text.splitlines():
        # "8 = 0" is one item: without this the split below made it three, each refused.
        line = _AROUND_EQUALS.sub("=", line.split("#", 1)[0])
        items.extend(part.strip() for part in line.replace(",", " ").split() if part.strip())
    return items


def read_map_file(path: Path) -> list[str]:
    """The ``FROM=TO`` items of a map file (one or more a line, ``#`` starts a comment)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_MAP_FILE + 1)
    except OSError as exc:
        raise CategoryMapError(f"{path}: cannot read the category map: {exc.strerror}") from None
    if len(data) > MAX_MAP_FILE:
        raise CategoryMapError(f"{path}: a category map file is at most {MAX_MAP_FILE} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CategoryMapError(f"{path}: byte {exc.start}: not UTF-8 text") from None
    return split_map_text(text)


def check_map_syntax(items: Iterable[str]) -> list[str]:
    """The items, each checked to be ``FROM=TO`` (the profile is checked at import)."""
    checked = []
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise CategoryMapError(f"category map item {item!r} is not FROM=TO (e.g. 8=0)")
        if len(source.strip()) > MAX_CATEGORY or len(target.strip()) > MAX_CATEGORY:
            raise CategoryMapError(f"category map item {item!r}: a code is at most 20 characters")
        checked.append(item.strip())
    return checked


def parse_map(items: Iterable[str], profile: CategoryProfile) -> dict[str, str]:
    """``FROM=TO`` items as {canonical FROM: canonical TO}, checked against ``profile``."""
    mapping: dict[str, str] = {}
    for item in check_map_syntax(items):
        raw_source, _, raw_target = item.partition("=")
        source = profile.canonical(raw_source)
        if profile.known(raw_source) is not None:
            raise CategoryMapError(
                f"category map {item!r}: {raw_source.strip()!r} is a code of profile "
                f"{profile.name!r} already; only codes it does not define can be mapped"
            )
        try:
            target = profile.validate(raw_target)
        except UnknownCategoryError as exc:
            raise CategoryMapError(f"category map {item!r}: {exc}") from None
        assert target is not None
        if mapping.get(source, target) != target:
            raise CategoryMapError(
                f"category map: {raw_source.strip()!r} is mapped to both "
                f"{mapping[source]!r} and {target!r}"
            )
        mapping[source] = target
    return mapping


# The signal types an entry can carry, in the order a summary names them.
SIGNAL_ORDER = ("pdq", "vpdq", "robust", "sha256", "sha1", "md5", "photodna")


def entry_signals(entry: Entry) -> list[str]:
    """The signal types ``entry`` carries, in ``SIGNAL_ORDER``."""
    held = {
        "pdq": entry.pdq,
        "vpdq": entry.vpdq,
        "robust": entry.robust,
        "sha256": entry.sha256,
        "sha1": entry.sha1,
        "md5": entry.md5,
        "photodna": entry.photodna,
    }
    return [name for name in SIGNAL_ORDER if held[name]]


@dataclass(frozen=True, slots=True)
class SignalCounts:
    """How many entries an import read, and how many of them carry each signal type (an
    entry with an MD5 and a PDQ hash counts under both, so the counts can add up to more)."""

    entries: int
    by_type: dict[str, int]

    def line(self) -> str:
        """``read 120 entries: pdq 100, md5 20``."""
        kinds = ", ".join(f"{name} {count:,}" for name, count in self.by_type.items())
        return f"read {self.entries:,} {_entries(self.entries)}" + (f": {kinds}" if kinds else "")


@dataclass
class ImportSummary:
    """Counts the entries and their signal types, and what the profile did not define, while
    entries are stored; ``notes()`` and ``signals()`` say it."""

    profile: CategoryProfile
    mapping: dict[str, str] = field(default_factory=dict)
    unknown: Counter[str] = field(default_factory=Counter)
    mapped: Counter[str] = field(default_factory=Counter)
    media_size_text: int = 0
    read: int = 0
    by_signal: Counter[str] = field(default_factory=Counter)

    def category_of(self, entry: Entry) -> tuple[str | None, dict[str, Any]]:
        """The category to store and the entry's ``extra`` (with SourceCategory if mapped);
        the entry and its signal types are counted."""
        self.read += 1
        self.by_signal.update(entry_signals(entry))
        if isinstance(entry.extra.get("MediaSize"), str):
            self.media_size_text += 1
        code = entry.category
        if code is None:
            return None, entry.extra
        known = self.profile.known(code)
        if known is not None:
            return known, entry.extra
        source = self.profile.canonical(code)
        target = self.mapping.get(source)
        if target is None:
            self.unknown[source] += 1
            return code, entry.extra
        self.mapped[source] += 1
        return target, {**entry.extra, SOURCE_CATEGORY: code}

    def notes(self) -> list[str]:
        """One line per thing the examiner should know about this import."""
        lines: list[str] = []
        name = self.profile.name
        for code, count in sorted(self.unknown.items()):
            lines.append(
                f"{count:,} {_entries(count)} with category {code}, not known to profile "
                f"{name}: treated as not pertinent; {self._hint(code)}"
            )
        for source, target in sorted(self.mapping.items()):
            count = self.mapped[source]
            if count:
                label = self.profile.label(target)
                lines.append(
                    f"{count:,} {_entries(count)} with category {source} mapped to {target} "
                    f"({label}); the file's code is kept as {SOURCE_CATEGORY}"
                )
            else:
                lines.append(f"category map {source}={target}: no entry has category {source}")
        if self.media_size_text:
            lines.append(
                f"{self.media_size_text:,} {_entries(self.media_size_text)} with a MediaSize "
                "that is not a number: kept as written, not used as a size"
            )
        return lines

    def signals(self) -> SignalCounts:
        """The entries read and how many carry each signal type, in ``SIGNAL_ORDER``."""
        by_type = {name: self.by_signal[name] for name in SIGNAL_ORDER if self.by_signal[name]}
        return SignalCounts(self.read, by_type)

    def details(self) -> dict[str, Any]:
        """For the audit log: the signal types read, the map used and the codes left unmapped,
        with their counts."""
        return {
            "signals": self.signals().by_type,
            "category_map": dict(self.mapping),
            "unmapped_categories": dict(self.unknown),
            "mapped_categories": dict(self.mapped),
        }

    def _hint(self, code: str) -> str:
        target = self.profile.ignorable_code
        if target is not None:
            return f"map with --category-map {code}={target} if it is non-pertinent"
        return (
            f"profile {self.profile.name} has no non-pertinent code: choose one that has "
            f"(e.g. --profile projectvic-us-2.0 --category-map {code}=0)"
        )


def _entries(count: int) -> str:
    return "entry" if count == 1 else "entries"
