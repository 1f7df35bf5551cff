"""What counts as a reason (or a legal basis) a person gives for an audited action.

A reveal, an override, an unlink and the like are justified by a sentence that a supervisor or
a court may read later, so "   ", "x" or twenty zero-width spaces must not pass. The rule:
after Unicode NFKC normalisation, with format and control characters (zero-width spaces, bidi
marks, NUL, ...) removed and whitespace collapsed, the text holds at least ``MIN_WORD_CHARS``
letters or digits (Unicode categories L* and N*, so every script counts, and combining marks
do not count on their own). Every front-end calls ``require_reason``; none checks by itself.
"""

from __future__ import annotations

import unicodedata

MIN_WORD_CHARS = 10
MAX_CHARS = 2000
# Removed before anything is counted or stored: controls, format characters (zero-width
# space/joiners, bidi overrides, soft hyphen), surrogates, private use and unassigned points.
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


class ReasonError(ValueError):
    """A reason or legal basis that does not hold real words (the web answers 422)."""


def normalise_reason(text: str) -> str:
    """The text as it is stored: NFKC, invisible characters removed, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text)
    # Tabs and line breaks are control characters but separate words: keep them as spaces.
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in folded
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED
    )
    return " ".join(kept.split())


def word_chars(text: str) -> int:
    """How many letters and digits ``text`` holds (after ``normalise_reason``)."""
    return sum(1 for ch in normalise_reason(text) if unicodedata.category(ch)[0] in "LN")


def require_reason(text: str | None, *, what: str = "reason") -> str:
    """``text`` normalised, or ``ReasonError`` saying why it is not a reason.

    ``what`` names the field in the message ("reason", "legal basis")."""
    cleaned = normalise_reason(text or "")
    if len(cleaned) > MAX_CHARS:
        raise ReasonError(f"the {what} is longer than {MAX_CHARS} characters")
    found = sum(1 for ch in cleaned if unicodedata.category(ch)[0] in "LN")
    if found < MIN_WORD_CHARS:
        raise ReasonError(
            f"the {what} must say why in words: at least {MIN_WORD_CHARS} letters or digits"
            f" (it has {found})"
        )
    return cleaned
