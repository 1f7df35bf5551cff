"""The steps of a receiving agency's investigation: what an outcome file reports back.

One vocabulary on both sides: the receiver records these steps on its case, the outcome file
carries them, and the sender maps each onto its referral's lifecycle (``refer.lifecycle``) and
its outcome counts. A step never carries personal data beyond the referral's own subject ids:
its free-text ``detail`` (ISP, subscriber, warrant number) stays with the receiver.
"""

from __future__ import annotations

from typing import Final

# (kind, label, the sender's referral status it implies or None, the outcome count it adds)
_STEPS: Final[tuple[tuple[str, str, str | None, str | None], ...]] = (
    ("received", "package received and imported", "acknowledged", None),
    (
        "legal_request",
        "legal request to an ISP for the subscriber of an IP and time",
        "investigating",
        None,
    ),
    ("subscriber_identified", "subscriber identified", "investigating", None),
    ("search_warrant", "search warrant", "warrant", None),
    ("devices_seized", "devices seized", "warrant", "devices_seized"),
    ("arrest", "arrest", "arrest", "arrested"),
    ("charge", "charge", "charged", None),
    ("conviction", "conviction", "convicted", None),
    ("children_safeguarded", "children safeguarded", None, "children_safeguarded"),
    ("no_further_action", "no further action", "no further action", None),
)

KINDS: Final = tuple(s[0] for s in _STEPS)
LABELS: Final = {s[0]: s[1] for s in _STEPS}
STATUS_OF: Final = {s[0]: s[2] for s in _STEPS if s[2] is not None}
COUNTED: Final = {s[0]: s[3] for s in _STEPS if s[3] is not None}
# A note is recorded on the case like a step but never leaves the receiving agency.
NOTE: Final = "note"
# Steps that need a number (how many arrested, devices, children); others take none.
NEEDS_COUNT: Final = frozenset(COUNTED)
NEEDS_REASON: Final = frozenset({"no_further_action"})
MAX_COUNT: Final = 1_000_000
MAX_REASON: Final = 1000


class StepError(ValueError):
    """A step that cannot be recorded or read; the message says which field and why."""


def normalise_kind(text: str) -> str:
    kind = "_".join(text.strip().lower().replace("-", " ").split())
    if kind in {"nfa", "no_further"}:
        kind = "no_further_action"
    if kind not in KINDS:
        raise StepError(f"unknown step {text!r}; steps: {', '.join(KINDS)}")
    return kind


def check_step(kind: str, count: int | None, reason: str) -> None:
    """The rules every step obeys wherever it is recorded or read."""
    if kind in NEEDS_COUNT:
        if count is None:
            raise StepError(f"step {kind!r} needs a count")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
            raise StepError(f"step {kind!r}: count must be a whole number 0-{MAX_COUNT:,}")
    elif count is not None:
        raise StepError(f"step {kind!r} takes no count")
    if kind in NEEDS_REASON and not reason.strip():
        raise StepError(f"step {kind!r} needs a reason")
    if len(reason) > MAX_REASON:
        raise StepError(f"the reason is longer than {MAX_REASON} characters")
