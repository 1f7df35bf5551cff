"""Keyed ids: stable for the same accounts, different under another key, never unkeyed."""

from __future__ import annotations

import pytest
from accounts_samples import KEY, OTHER_KEY
from hypothesis import given
from hypothesis import strategies as st

from kaitiaki.accounts import hmac_identifier, subject_id


def test_subject_id_is_stable_and_order_free() -> None:
    first = subject_id(KEY, ["tw:2", "tw:1", "fb:9"])
    assert first == subject_id(KEY, ["fb:9", "tw:1", "tw:2", "tw:1"])
    assert first.startswith("S-") and len(first) == 18
    int(first[2:], 16)


def test_subject_id_depends_on_key_and_accounts() -> None:
    assert subject_id(KEY, ["a", "b"]) != subject_id(OTHER_KEY, ["a", "b"])
    assert subject_id(KEY, ["a", "b"]) != subject_id(KEY, ["a"])
    # An unambiguous encoding: joining with a separator would make these two equal.
    assert subject_id(KEY, ["a,b"]) != subject_id(KEY, ["a", "b"])


def test_identifier_pointer() -> None:
    email = hmac_identifier(KEY, "email", "johnsmith@gmail.com")
    assert len(email) == 64
    assert email == hmac_identifier(KEY, "email", "johnsmith@gmail.com")
    assert email != hmac_identifier(OTHER_KEY, "email", "johnsmith@gmail.com")
    assert email != hmac_identifier(KEY, "device", "johnsmith@gmail.com")


def test_refusals() -> None:
    with pytest.raises(ValueError, match="key"):
        subject_id(b"", ["a"])
    with pytest.raises(ValueError, match="key"):
        hmac_identifier(b"", "email", "x@example.com")
    with pytest.raises(ValueError, match="at least one"):
        subject_id(KEY, [])
    with pytest.raises(ValueError, match="kind"):
        hmac_identifier(KEY, "e:mail", "x")


@given(st.lists(st.text(min_size=1), min_size=1, max_size=6), st.randoms())
def test_subject_id_ignores_order(accounts: list[str], rnd: object) -> None:
    shuffled = list(accounts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert subject_id(KEY, accounts) == subject_id(KEY, shuffled)
