from __future__ import annotations

import pytest

from kaitiaki.hashsets.profiles import (
    PROFILES,
    UnknownCategoryError,
    UnknownProfileError,
    get_profile,
    profile_for_vics_region,
)


def test_profile_names() -> None:
    assert set(PROFILES) == {"projectvic-us-2.0", "dhs-legacy", "uk-caid", "ncmec", "none"}


def test_unknown_profile_lists_valid_names() -> None:
    with pytest.raises(UnknownProfileError, match=r"projectvic-us-2\.0.*uk-caid"):
        get_profile("caid")


def test_project_vic_us() -> None:
    p = get_profile("projectvic-us-2.0")
    assert p.codes == ("0", "1", "2", "3", "4")
    assert p.is_ignorable("0") and not p.is_pertinent("0")
    assert [p.is_pertinent(c) for c in "1234"] == [True, True, True, False]
    assert not any(p.is_ignorable(c) for c in "1234")
    assert p.label("1") == "Child Abuse Material (CAM)"
    assert p.vics_region == "US"


def test_dhs_legacy_five_is_non_pertinent_and_zero_is_ungraded() -> None:
    p = get_profile("dhs-legacy")
    assert p.is_ignorable("5") and not p.is_ignorable("0")
    assert p.is_pertinent("0") and p.is_pertinent("1") and not p.is_pertinent("4")


def test_uk_caid_letters() -> None:
    p = get_profile("uk-caid")
    assert p.validate("a") == "A"
    assert p.validate("Category B") == "B"
    assert p.validate("Cat C") == "C"
    assert all(p.is_pertinent(c) for c in "ABC")
    assert p.is_ignorable("0")
    # VICS UK integer grades have no public mapping: refused rather than guessed.
    with pytest.raises(UnknownCategoryError, match="valid: A, B, C, 0"):
        p.validate("1")


def test_ncmec() -> None:
    p = get_profile("ncmec")
    assert p.codes == ("A1", "A2", "B1", "B2")
    assert p.validate("b2") == "B2"
    assert all(p.is_pertinent(c) for c in p.codes)
    assert not any(p.is_ignorable(c) for c in p.codes)


def test_no_category_is_pertinent_and_never_ignorable() -> None:
    for profile in PROFILES.values():
        assert profile.is_pertinent(None)
        assert not profile.is_ignorable(None)
        assert profile.validate(None) is None


def test_unknown_code_is_refused_for_review_never_hides_and_is_not_pertinent() -> None:
    p = get_profile("projectvic-us-2.0")
    with pytest.raises(UnknownCategoryError, match="'9' is not a code of profile"):
        p.validate("9")  # a reviewer's decision must use the profile's own codes
    # An imported entry with a code the profile lacks (NSRL CAID's 8) is kept and reported,
    # not pertinent unless mapped, and never enough to mark a file ignorable.
    assert not p.is_ignorable("9") and not p.is_pertinent("9")
    assert p.known("9") is None and p.known("01") == "1"
    assert "not a code" in p.label("9")


def test_unicode_digits_are_not_numbers() -> None:
    # "²".isdigit() is true but int("²") raises: canonical must not crash on it.
    assert get_profile("projectvic-us-2.0").canonical("²") == "²"


def test_zero_is_a_real_code() -> None:
    p = get_profile("projectvic-us-2.0")
    assert p.validate("0") == "0"
    assert p.validate("00") == "0"


def test_profile_none_refuses_categories() -> None:
    with pytest.raises(UnknownCategoryError, match="has no categories"):
        get_profile("none").validate("1")


def test_region_selects_profile() -> None:
    assert profile_for_vics_region("UK") == "uk-caid"
    assert profile_for_vics_region("US") == "projectvic-us-2.0"
    assert profile_for_vics_region("CUSTOM") == "projectvic-us-2.0"
    assert profile_for_vics_region(None) == "projectvic-us-2.0"
