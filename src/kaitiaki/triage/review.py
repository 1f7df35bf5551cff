"""A reviewer's categorisation of a file, applied to its near-duplicate group, with an audit entry.

Which category codes are valid: those of the evidence's profile, the category profile of the
hash sets its scans matched against (the scheme its known material is already graded in, so
reviewed and known material count in one scheme). Sets without categories (profile ``none``)
do not count; with none left the default is Project VIC US 2.0, the profile a VICS file
implies. Evidence scanned against sets of two different profiles has no single scheme, and a
decision is refused rather than guessed: "1" is a different grade in Project VIC and in the
DHS scheme. Besides the codes, ``ignorable`` (not pertinent) and ``skip`` (seen, no decision)
are always accepted.

Group rule: a decision on a file in a group (its representative or a member) is written for
every member, each row naming in ``via_group`` the file the reviewer decided on. A later
decision on a single file (``apply_to_group=False``) overrides it for that file: the newest
decision is the one that counts.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.hashsets.profiles import (
    DEFAULT_PROFILE,
    CategoryProfile,
    UnknownCategoryError,
    get_profile,
)
from kaitiaki.scan.summary import used_hash_set_ids
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, FileGroup, FileInstance, HashSet, ReviewDecision

IGNORABLE = "ignorable"
SKIP = "skip"
ACTION = "review_decision"


class ReviewError(ValueError):
    """A decision that cannot be recorded: unknown evidence or file, or an invalid category."""


def evidence_profile(session: Session, eid: int) -> CategoryProfile:
    """The evidence's category profile (see the module docstring)."""
    set_ids = used_hash_set_ids(session, eid)
    names = set()
    if set_ids:
        names = set(session.scalars(select(HashSet.profile).where(HashSet.id.in_(set_ids))))
    names.discard("none")
    if len(names) > 1:
        raise ReviewError(
            f"evidence {eid} was matched against hash sets of several category profiles "
            f"({', '.join(sorted(names))}); a decision needs one scheme"
        )
    return get_profile(names.pop() if names else DEFAULT_PROFILE)


def valid_category(profile: CategoryProfile, category: str) -> str:
    """The canonical spelling of ``category`` under ``profile``, or ReviewError."""
    text = category.strip()
    if text.lower() in (IGNORABLE, SKIP):
        return text.lower()
    try:
        canonical = profile.validate(text)
    except UnknownCategoryError as exc:
        raise ReviewError(f"{exc}, or {IGNORABLE} or {SKIP}") from None
    assert canonical is not None
    return canonical


def _group_of(session: Session, eid: int, sha256: str) -> tuple[str | None, list[str]]:
    """(representative, every member incl. the representative) of the file's group."""
    representative = session.scalar(
        select(FileGroup.representative).where(
            FileGroup.evidence_id == eid, FileGroup.sha256 == sha256
        )
    )
    if representative is None:
        return None, [sha256]
    members = list(
        session.scalars(
            select(FileGroup.sha256)
            .where(FileGroup.evidence_id == eid, FileGroup.representative == representative)
            .order_by(FileGroup.sha256)
        )
    )
    return representative, members


def decide(
    store: Store,
    *,
    evidence_id: int,
    sha256: str,
    category: str,
    by: str,
    reason: str = "",
    apply_to_group: bool = True,
    decided_by: str | None = None,
) -> list[str]:
    """Record ``by``'s decision that ``sha256`` is ``category``; return the files decided.

    ``by`` is the audit actor (who enters it); ``decided_by`` names the reviewer whose call it
    was when someone else enters it (kept on the rows). The decided file comes first, then the
    other members of its group (when ``apply_to_group``). One transaction: the rows and one
    audit entry, or nothing.
    """
    sha256 = sha256.strip().lower()
    if not by.strip():
        raise ReviewError("a decision needs the reviewer's name")
    reviewer = (decided_by or "").strip() or by
    with store.session() as session:
        if session.get(Evidence, evidence_id) is None:
            raise ReviewError(f"no evidence item with id {evidence_id}")
        present = session.scalar(
            select(FileInstance.id)
            .where(FileInstance.evidence_id == evidence_id, FileInstance.sha256 == sha256)
            .limit(1)
        )
        if present is None:
            raise ReviewError(f"file {sha256} is not in evidence item {evidence_id}")
        profile = evidence_profile(session, evidence_id)
        code = valid_category(profile, category)
        representative, members = (
            _group_of(session, evidence_id, sha256) if apply_to_group else (None, [sha256])
        )
        others = [m for m in members if m != sha256]
        session.add(
            ReviewDecision(
                evidence_id=evidence_id,
                sha256=sha256,
                category=code,
                decided_by=reviewer,
                reason=reason,
            )
        )
        session.add_all(
            ReviewDecision(
                evidence_id=evidence_id,
                sha256=member,
                category=code,
                decided_by=reviewer,
                reason=reason,
                via_group=sha256,
            )
            for member in others
        )
        session.flush()
        record(
            session,
            actor=by,
            action=ACTION,
            target_type="file",
            target_id=sha256,
            reason=reason,
            details={
                "evidence_id": evidence_id,
                "category": code,
                "profile": profile.name,
                "representative": representative,
                "applied_to_group": bool(others),
                "count": 1 + len(others),
                "members": others,
                **({"decided_by": reviewer} if reviewer != by else {}),
            },
        )
    return [sha256, *others]


def latest_decisions(session: Session, eid: int) -> dict[str, ReviewDecision]:
    """The newest decision per file of the evidence (``skip`` included); newest by row id, which
    follows the order decisions were written in whatever the clocks of the writers said."""
    out: dict[str, ReviewDecision] = {}
    query = (
        select(ReviewDecision).where(ReviewDecision.evidence_id == eid).order_by(ReviewDecision.id)
    )
    for row in session.scalars(query):
        out[row.sha256] = row
    return out
