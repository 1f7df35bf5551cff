"""A signed outcome file: what a partner's investigation of one referral came to.

The file is a DSSE envelope (``refer.envelope``, type ``OUTCOME_TYPE``) around the document
``schema/outcome-v1.json`` describes. Reading it checks, in order: the signature (against the
trust store, or one pinned key), the schema version and the JSON Schema, then what a schema
cannot say: each step's rules (``refer.steps.check_step``), real calendar dates, unique step
ids, steps about the file's own subjects, totals that add up. What the file *means* for a
referral (may this partner report on it, what changes) is ``refer.outcome_import``'s question.

The receiving agency writes the file with ``write_outcome_file``, which makes the same checks
before signing, so one installation never sends what the other refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kaitiaki.refer.envelope import OUTCOME_TYPE, open_sealed, write_sealed
from kaitiaki.refer.steps import COUNTED, StepError, check_step
from kaitiaki.refer.versions import SchemaVersionError, validate
from kaitiaki.store import Store

SCHEMA_NAME: Final = "outcome-v1.json"
SCHEMA_ID: Final = "https://kaitiaki.example/schema/outcome-v1.json"
SCHEMA_VERSION: Final = "1.0"  # what this kaitiaki writes; it reads every 1.x
NO_FURTHER_ACTION: Final = "no_further_action"
TOTALS: Final = ("arrested", "children_safeguarded", "devices_seized", NO_FURTHER_ACTION)
# A step dated after the file was issued is a mistake (or a forgery); one day of slack for
# the receiver's time zone, as step dates are local calendar days and issued_at is UTC.
_SLACK: Final = timedelta(days=1)


class OutcomeFileError(ValueError):
    """An outcome file that cannot be read, written or applied; names the file (and the step)."""


@dataclass(frozen=True, slots=True)
class OutcomeStep:
    number: int  # 1-based position in the file, for messages
    id: str
    kind: str  # one of refer.steps.KINDS
    date: date
    subject_id: str | None
    count: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Signer:
    """Who signed the file, as the verifying side knows them."""

    name: str  # the trust store's name, or "pinned key"
    fingerprint: str
    source: Literal["trusted", "pinned"]
    jurisdictions: tuple[str, ...]  # "CC:Agency" the trust store binds the key to


@dataclass(frozen=True, slots=True)
class OutcomeDocument:
    where: str  # the file's name, for messages
    sha256: str  # of the whole file (envelope), its identity for "already imported"
    signer: Signer
    schema_version: str
    referral_id: str
    package_manifest_sha256: str
    package_version: int
    agency_country: str
    agency_name: str
    issued_at: datetime
    issued_by: str
    subjects: tuple[str, ...]
    steps: tuple[OutcomeStep, ...]
    totals: Mapping[str, int]


_UNSIGNED: Final = Signer("", "", "pinned", ())
_STEP_AT: Final = re.compile(r"at steps/([0-9]+)[^\s:]*")


def totals(steps: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The ``totals`` object for these steps (as the document holds them): counts summed per
    counted kind, and the number of no-further-action steps."""
    out = dict.fromkeys(TOTALS, 0)
    for step in steps:
        kind = step.get("kind")
        if kind == NO_FURTHER_ACTION:
            out[NO_FURTHER_ACTION] += 1
        elif isinstance(kind, str) and kind in COUNTED:
            out[COUNTED[kind]] += int(step.get("count") or 0)
    return out


def _day(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise OutcomeFileError(f"{where}: date {text!r} is not a calendar date") from None


def _issued(text: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise OutcomeFileError(f"{where}: issued_at {text!r} is not a date and time") from None
    if parsed.tzinfo is None:  # the schema asks for a zone; a later minor might not
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _step(raw: Mapping[str, Any], number: int, where: str, issued: datetime) -> OutcomeStep:
    here = f"{where}: step {number}"
    kind, count, reason = raw["kind"], raw["count"], raw["reason"]
    try:
        check_step(kind, count, reason)
    except StepError as exc:
        raise OutcomeFileError(f"{here}: {exc}") from None
    day = _day(raw["date"], here)
    if day > (issued + _SLACK).date():
        raise OutcomeFileError(
            f"{here}: dated {day} but the file was issued on {issued:%Y-%m-%d}: a step cannot "
            "come after the file that reports it"
        )
    return OutcomeStep(number, raw["id"], kind, day, raw["subject_id"], count, reason)


def _parse(doc: dict[str, Any], where: str, *, sha256: str, signer: Signer) -> OutcomeDocument:
    try:
        major, minor = validate(doc, SCHEMA_NAME, SCHEMA_VERSION, what=where)
    except SchemaVersionError as exc:
        # "at steps/3/kind" as the person counts: "at step 4 (steps/3/kind)".
        message = _STEP_AT.sub(lambda m: f"at step {int(m[1]) + 1} ({m[0][3:]})", str(exc), 1)
        raise OutcomeFileError(message) from None
    issued = _issued(doc["issued_at"], where)
    subjects = tuple(doc["subjects"])
    # Checked here, not with the schema's uniqueItems: jsonschema compares unsortable items
    # pairwise, quadratic on a hostile list.
    if len(set(subjects)) != len(subjects):
        raise OutcomeFileError(f"{where}: a subject is listed twice in 'subjects'")
    members = set(subjects)
    steps: list[OutcomeStep] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(doc["steps"], 1):
        step = _step(raw, number, where, issued)
        if step.id in seen:
            raise OutcomeFileError(
                f"{where}: step {number} has the id of step {seen[step.id]} ({step.id})"
            )
        seen[step.id] = number
        if step.subject_id is not None and step.subject_id not in members:
            raise OutcomeFileError(
                f"{where}: step {number}: subject {step.subject_id!r} is not among the file's "
                "subjects"
            )
        steps.append(step)
    declared = {k: int(doc["totals"][k]) for k in TOTALS}
    added = totals(doc["steps"])
    wrong = [f"{k} {declared[k]} (steps: {added[k]})" for k in TOTALS if declared[k] != added[k]]
    if wrong:
        raise OutcomeFileError(f"{where}: totals do not match the steps: {', '.join(wrong)}")
    return OutcomeDocument(
        where=where,
        sha256=sha256,
        signer=signer,
        schema_version=f"{major}.{minor}",
        referral_id=doc["referral_id"],
        package_manifest_sha256=doc["package_manifest_sha256"],
        package_version=doc["package_version"],
        agency_country=doc["agency"]["country"],
        agency_name=doc["agency"]["name"],
        issued_at=issued,
        issued_by=doc["issued_by"],
        subjects=subjects,
        steps=tuple(steps),
        totals=declared,
    )


def read_outcome_file(
    path: Path, *, store: Store | None, pinned: Path | None = None, data: bytes | None = None
) -> OutcomeDocument:
    """Verify and read an outcome file (or ``data`` received under the name ``path``).

    Raises ``EnvelopeError`` (``UnknownSignerError`` for a key not trusted) when the file is not
    an intact envelope signed by a trusted key (or ``pinned``), and ``OutcomeFileError`` when
    its document is not a readable outcome (a newer major version, a bad step, ...)."""
    opened = open_sealed(path, OUTCOME_TYPE, store=store, pinned=pinned, data=data)
    signer = Signer(opened.sender, opened.key_fingerprint, opened.key_source, opened.jurisdictions)
    return _parse(opened.payload, str(path), sha256=opened.sha256, signer=signer)


def check_outcome_document(document: dict[str, Any], *, what: str) -> None:
    """Raise ``OutcomeFileError`` if ``document`` is not an outcome a reader would accept."""
    _parse(document, what, sha256="", signer=_UNSIGNED)


def write_outcome_file(path: Path, document: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """Sign ``document`` with ``key`` and write it to ``path``; returns the file's SHA-256.

    The document is checked as a reader checks it first, so nothing is written (and nothing
    sent) that the other side would refuse."""
    check_outcome_document(document, what=f"{path} (not written)")
    return write_sealed(path, document, OUTCOME_TYPE, key)
