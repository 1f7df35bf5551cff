"""Roles and what each may do, kept as data so every route can be checked against every role."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kaitiaki.store.models import Referral
    from kaitiaki.users.scope import Scope


class Role(StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    REVIEWER = "reviewer"
    LIAISON = "liaison"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """One thing a route may need. Names starting ``view_`` read and never change anything."""

    VIEW_FILES = "view_files"
    VIEW_HASH_SETS = "view_hash_sets"
    VIEW_SUBJECTS = "view_subjects"
    VIEW_PRIORITY = "view_priority"
    VIEW_REFERRALS = "view_referrals"
    VIEW_STATISTICS = "view_statistics"
    VIEW_AUDIT = "view_audit"
    VIEW_USERS = "view_users"
    # Showing the imagery itself is not a ``view_`` permission on purpose: reading the record of
    # an operation (auditor) must never imply seeing the abuse material it is about.
    REVEAL_CONTENT = "reveal_content"
    REVIEW = "review"
    SCAN = "scan"
    IMPORT_HASH_SETS = "import_hash_sets"
    ANALYSE = "analyse"
    PRIORITISE = "prioritise"
    BUILD_REFERRALS = "build_referrals"
    UPDATE_REFERRAL = "update_referral"
    RECORD_OUTCOMES = "record_outcomes"
    # Importing a referral package another installation sent: the receiving agency's act.
    RECEIVE_REFERRALS = "receive_referrals"
    MANAGE_USERS = "manage_users"
    # The provider's desk: CyberTipline reports, legal holds, disclosures. Reading them is a
    # ``view_`` permission (the auditor's); drafting, submitting and retracting a report, and
    # placing or releasing a hold, are acts with legal weight left to admin and investigator.
    VIEW_REPORTS = "view_reports"
    FILE_REPORTS = "file_reports"
    MANAGE_HOLDS = "manage_holds"


READ_ONLY: frozenset[Permission] = frozenset(p for p in Permission if p.startswith("view_"))
"""Permissions that change nothing; the auditor holds exactly these."""

_EVERYTHING = frozenset(Permission)

PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.ADMIN: _EVERYTHING,
        # The audit log is oversight of the people working the case, investigators included,
        # so it is left to admin and auditor rather than counted as operational.
        Role.INVESTIGATOR: _EVERYTHING - {Permission.MANAGE_USERS, Permission.VIEW_AUDIT},
        Role.REVIEWER: frozenset(
            {Permission.VIEW_FILES, Permission.REVEAL_CONTENT, Permission.REVIEW}
        ),
        # The partner agency's officer moves its referrals along and reports what came of them
        # (warrant, arrest, children safeguarded): only its jurisdictions' (JURISDICTION_SCOPED).
        # Sending a draft is the sending side's act, refused in refer.service.
        # At a receiving agency the same officer imports the packages addressed to its
        # jurisdictions and works those received cases (``receive.service`` scopes them).
        Role.LIAISON: frozenset(
            {
                Permission.VIEW_REFERRALS,
                Permission.UPDATE_REFERRAL,
                Permission.RECORD_OUTCOMES,
                Permission.RECEIVE_REFERRALS,
            }
        ),
        Role.AUDITOR: READ_ONLY,
    }
)

JURISDICTION_SCOPED: frozenset[Role] = frozenset({Role.LIAISON})
"""Roles whose referral permissions reach only the referrals of their (country, agency) pairs."""


def allowed(role: Role | str, permission: Permission | str) -> bool:
    """Whether ``role`` holds ``permission``; an unknown role or permission is always refused."""
    try:
        return Permission(permission) in PERMISSIONS[Role(role)]
    except (ValueError, KeyError):
        return False


def _referral_access(scope: Scope, referral: Referral, permission: Permission) -> bool:
    return scope.can(permission) and scope.covers(referral.country, referral.agency)


def can_see_referral(scope: Scope, referral: Referral) -> bool:
    """Whether ``scope`` may read ``referral``: a liaison only its jurisdictions'."""
    return _referral_access(scope, referral, Permission.VIEW_REFERRALS)


def can_update_referral(scope: Scope, referral: Referral) -> bool:
    """Whether ``scope`` may change ``referral``'s status: a liaison only its jurisdictions'."""
    return _referral_access(scope, referral, Permission.UPDATE_REFERRAL)


def can_record_outcome(scope: Scope, referral: Referral) -> bool:
    """Whether ``scope`` may record an outcome of ``referral``: a liaison only its
    jurisdictions'."""
    return _referral_access(scope, referral, Permission.RECORD_OUTCOMES)


def can_send(scope: Scope) -> bool:
    """Whether ``scope`` may move a draft to "sent": the sending side only, never a receiving
    agency's liaison (it would be sending to itself what the lead unit has not released)."""
    return scope.can(Permission.UPDATE_REFERRAL) and not scope.bounded
