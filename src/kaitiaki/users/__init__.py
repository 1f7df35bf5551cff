"""Users and roles: local accounts with argon2id hashes, the role -> permission table, and the
jurisdictions that bound a liaison officer."""

from kaitiaki.users.accounts import (
    UserError,
    add_user,
    authenticate,
    disable_user,
    jurisdictions_of,
    list_users,
    normalise_name,
    parse_role,
    set_jurisdictions,
    set_password,
)
from kaitiaki.users.roles import (
    JURISDICTION_SCOPED,
    PERMISSIONS,
    READ_ONLY,
    Permission,
    Role,
    allowed,
    can_record_outcome,
    can_see_referral,
    can_send,
    can_update_referral,
)
from kaitiaki.users.scope import (
    Jurisdiction,
    JurisdictionError,
    Scope,
    jurisdiction,
    parse_jurisdiction,
)

__all__ = [
    "JURISDICTION_SCOPED",
    "PERMISSIONS",
    "READ_ONLY",
    "Jurisdiction",
    "JurisdictionError",
    "Permission",
    "Role",
    "Scope",
    "UserError",
    "add_user",
    "allowed",
    "authenticate",
    "can_record_outcome",
    "can_see_referral",
    "can_send",
    "can_update_referral",
    "disable_user",
    "jurisdiction",
    "jurisdictions_of",
    "list_users",
    "normalise_name",
    "parse_jurisdiction",
    "parse_role",
    "set_jurisdictions",
    "set_password",
]
