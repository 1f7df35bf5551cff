"""Whether an import would meet a bare 64-hex value nobody said how to read, found before the
import is queued: a web upload is refused at once (422) rather than as a failed job later.

Only the head of the file is read (``PRECHECK_BYTES``): a value beyond it is still refused, by
the import itself, with the same message. Other faults are left to the import, which names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kaitiaki.hashsets.entry import HashSetError, Hex64, Hex64UndecidedError
from kaitiaki.hashsets.source import SourceFile
from kaitiaki.hashsets.store import ImportFormat, detect_format, open_reader

# Some hundred thousand lines of a digest list: a moment to read, and far past the first
# value of any list whose 64-hex values are undecided.
PRECHECK_BYTES = 8 << 20


def first_undecided(
    path: Path,
    fmt: ImportFormat | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    hex64: Hex64 | None = None,
    limit: int = PRECHECK_BYTES,
) -> Hex64UndecidedError | None:
    """The refusal importing ``path`` would meet for an undecided 64-hex value in its first
    ``limit`` bytes; None when there is none there (or the file has another fault first)."""
    fmt = fmt or detect_format(path)
    if hex64 is not None or fmt == "vics":
        return None  # settled, or a format that names each hash's type
    try:
        with SourceFile(path) as src:
            parsed, _ = open_reader(path, src, fmt, "none", columns, None)
            for _ in parsed:
                if src.position > limit:
                    return None
    except Hex64UndecidedError as exc:
        return exc
    except (HashSetError, OSError):
        return None  # the import names it
    return None
