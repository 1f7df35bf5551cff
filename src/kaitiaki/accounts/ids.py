"""Keyed identifiers: subject ids per operation, and HMAC pointers to identifier values.

Both are HMAC-SHA256 under a per-operation secret key (as FollowTheMoney namespaces entity ids per
dataset). Two consequences, both wanted:

* the same accounts get the same subject id on every run of one operation, so references in
  referrals and notes stay valid when the analysis is re-run; another operation (another key)
  gives unrelated ids, so ids do not leak which subjects two operations share;
* an identifier pointer (``hmac_identifier``) lets two parties holding the same key find that
  they hold the same email or phone number without exchanging the value itself (deconfliction).

A subject id names a *set of accounts*: if a link is undone and the subject splits, the parts get
new ids. Keys should be 32 random bytes kept with the operation; an empty key is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable

SUBJECT_PREFIX = "S-"
# 16 hex characters = 64 bits: at a million subjects in one operation the chance of any collision
# is about 3e-8, and the ids stay short enough to read out on the phone.
SUBJECT_ID_HEX = 16
_KIND = re.compile(r"[a-z][a-z0-9_]*")


def _check_key(key: bytes) -> None:
    if not key:
        raise ValueError("an operation key is required (32 random bytes recommended)")


def subject_id(operation_key: bytes, account_ids: Iterable[str]) -> str:
    """The id of the subject made of ``account_ids`` (order and duplicates do not matter).

    ``S-`` + the first 16 hex digits of HMAC-SHA256(key, ``"subject:" + JSON(sorted ids)``). JSON
    encodes the list unambiguously whatever characters an account id contains, so no two
    different sets of accounts share a message.
    """
    _check_key(operation_key)
    ids = sorted(set(account_ids))
    if not ids:
        raise ValueError("a subject needs at least one account")
    message = "subject:" + json.dumps(ids, ensure_ascii=False, separators=(",", ":"))
    digest = hmac.new(operation_key, message.encode("utf-8"), hashlib.sha256).hexdigest()
    return SUBJECT_PREFIX + digest[:SUBJECT_ID_HEX]


def hmac_identifier(key: bytes, kind: str, normalised_value: str) -> str:
    """A keyed pointer (64 hex digits) to one normalised identifier value.

    ``kind`` (``email``, ``phone``, ``device``, ``ip``...) is part of the message, so an email and
    a device id that happen to be the same text get different pointers. Pass values already
    normalised (``normalise_email`` etc.): the pointer is only as stable as its input.
    """
    _check_key(key)
    if not _KIND.fullmatch(kind):
        raise ValueError(f"identifier kind must be lowercase letters, digits, _: {kind!r}")
    message = f"{kind}:{normalised_value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
