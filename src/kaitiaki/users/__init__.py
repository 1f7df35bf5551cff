"""Users and roles: local accounts with argon2id hashes, and the role -> permission table."""

from kaitiaki.users.accounts import (
    UserError,
    add_user,
    authenticate,
    disable_user,
    list_users,
    normalise_name,
    parse_role,
    set_password,
)
from kaitiaki.users.roles import (
    AGENCY_SCOPED,
    PERMISSIONS,
    READ_ONLY,
    Permission,
    Role,
    allowed,
    can_record_outcome,
    can_see_referral,
    can_update_referral,
)

__all__ = [
    "AGENCY_SCOPED",
    "PERMISSIONS",
    "READ_ONLY",
    "Permission",
    "Role",
    "UserError",
    "add_user",
    "allowed",
    "authenticate",
    "can_record_outcome",
    "can_see_referral",
    "can_update_referral",
    "disable_user",
    "list_users",
    "normalise_name",
    "parse_role",
    "set_password",
]
