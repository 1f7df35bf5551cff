"""Normalisers: variants map to one value, junk to None, and normalising twice changes nothing."""

from __future__ import annotations

import pytest
from accounts_samples import REGIONS, PhoneSample, phone_samples
from hypothesis import given
from hypothesis import strategies as st

from kaitiaki.accounts import (
    ip_scope,
    normalise_device_id,
    normalise_email,
    normalise_ip,
    normalise_phone,
)

# --- emails ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "john.smith@gmail.com",
        "John.Smith@Gmail.com",
        "  johnsmith@gmail.com ",
        "j.o.h.n.s.m.i.t.h@gmail.com",
        "john.smith+forum@gmail.com",
        "johnsmith@googlemail.com",
        "JOHN.SMITH+x+y@GOOGLEMAIL.COM",
        "mailto:johnsmith@gmail.com",
        "<johnsmith@gmail.com>",
        "johnsmith@gmail.com.",
    ],
)
def test_gmail_variants_are_one_address(variant: str) -> None:
    assert normalise_email(variant) == "johnsmith@gmail.com"


def test_dots_matter_outside_gmail() -> None:
    assert normalise_email("john.smith@example.com") == "john.smith@example.com"
    assert normalise_email("johnsmith@example.com") == "johnsmith@example.com"
    assert normalise_email("John.Smith+tag@Example.COM") == "john.smith@example.com"


def test_idn_domain_is_encoded() -> None:
    assert normalise_email("kiri@bücher.de") == "kiri@xn--bcher-kva.de"


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "   ",
        "none",
        "unknown",
        "n/a",
        "N/A",
        "test@test.com",
        "none@none.com",
        "noreply@example.org",
        "t.e.s.t+1@gmail.com",
        "someone@mail.invalid",
        "someone@localhost",
        "two@@example.com",
        "a@b@example.com",
        "no-at-sign.example.com",
        "+tag@example.com",
        ".john@example.com",
        "jo..hn@example.com",
        "john smith@example.com",
        "john@example",
        "john@-bad-.com",
    ],
)
def test_junk_emails_are_none(junk: str) -> None:
    assert normalise_email(junk) is None


_email_chars = st.sampled_from([*"abcXYZ019._+-", "@", " ", "ü"])


@given(st.text(_email_chars, max_size=30))
def test_email_normalisation_is_idempotent_on_noise(text: str) -> None:
    once = normalise_email(text)
    if once is not None:
        assert normalise_email(once) == once


_local = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8}){0,2}", fullmatch=True)
_domain = st.sampled_from(
    ["gmail.com", "googlemail.com", "example.com", "example.co.nz", "xn--bcher-kva.de"]
)


@given(_local, _domain, st.from_regex(r"[a-z0-9]{0,6}", fullmatch=True), st.booleans())
def test_email_variants_map_to_one_value(local: str, domain: str, tag: str, upper: bool) -> None:
    plain = normalise_email(f"{local}@{domain}")
    variant = f"{local}+{tag}@{domain}"
    variant = variant.upper() if upper else variant
    assert normalise_email(variant) == plain
    if plain is not None:
        assert normalise_email(plain) == plain
        if domain in {"gmail.com", "googlemail.com"}:
            assert plain.endswith("@gmail.com") and "." not in plain.split("@")[0]


# --- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample", phone_samples(), ids=lambda s: f"{s.region}-{s.e164}")
def test_phone_forms_map_to_e164(sample: PhoneSample) -> None:
    e164, region = sample.e164, sample.region
    assert normalise_phone(sample.national, region) == e164
    assert normalise_phone(sample.international, region) == e164
    assert normalise_phone(sample.international, None) == e164
    assert normalise_phone(e164, None) == e164
    # International forms do not depend on the account's region.
    other = "DE" if region != "DE" else "NZ"
    assert normalise_phone(sample.international, other) == e164
    assert normalise_phone("00" + e164[1:], None) == e164


def test_national_numbers_need_a_region() -> None:
    assert normalise_phone("021 123 4567", None) is None
    assert normalise_phone("021 123 4567", "nz") == "+64211234567"
    assert normalise_phone("07400 123456", "UK") == "+447400123456"  # UK is GB to phonenumbers


@pytest.mark.parametrize(
    ("junk", "region"),
    [
        ("", "NZ"),
        ("none", "NZ"),
        ("n/a", None),
        ("12345", "NZ"),
        ("+64 1", None),
        ("000 000 0000", "US"),
        ("+1 555 0100", None),
        ("not a phone", "GB"),
        ("021 123 4567", "XX"),
        ("+99912345678", None),
    ],
)
def test_invalid_phones_are_none(junk: str, region: str | None) -> None:
    assert normalise_phone(junk, region) is None


@given(
    st.text(st.sampled_from(list("+0123456789 ()-")), max_size=20),
    st.sampled_from([None, *REGIONS]),
)
def test_phone_normalisation_is_idempotent(text: str, region: str | None) -> None:
    once = normalise_phone(text, region)
    if once is not None:
        assert once.startswith("+")
        assert normalise_phone(once, region) == once
        assert normalise_phone(once, None) == once


# --- device ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "6F9619FF-8B86-D011-B42D-00C04FC964FF",
        "{6f9619ff-8b86-d011-b42d-00c04fc964ff}",
        "6f9619ff8b86d011b42d00c04fc964ff",
        " 6F9619FF_8B86_D011_B42D_00C04FC964FF ",
        "6f:96:19:ff:8b:86:d0:11:b4:2d:00:c0:4f:c9:64:ff",
    ],
)
def test_device_id_variants(variant: str) -> None:
    assert normalise_device_id(variant) == "6f9619ff8b86d011b42d00c04fc964ff"


def test_imei_and_mac_forms() -> None:
    assert normalise_device_id("35 209900 176148 1") == "352099001761481"
    assert normalise_device_id("3C-22-FB-01-02-03") == normalise_device_id("3c:22:fb:01:02:03")


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "unknown",
        "null",
        "00000000-0000-0000-0000-000000000000",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
        "000000000000000",
        "02:00:00:00:00:00",
        "9774d56d682e549c",
        "abc",
        "n/a",
        "dev/ice/id/1234",
    ],
)
def test_junk_device_ids_are_none(junk: str) -> None:
    assert normalise_device_id(junk) is None


@given(st.text(st.sampled_from(list("0aAfF9-:_{} z/")), max_size=40))
def test_device_normalisation_is_idempotent(text: str) -> None:
    once = normalise_device_id(text)
    if once is not None:
        assert normalise_device_id(once) == once


@given(st.uuids())
def test_uuid_forms_map_to_one_value(value: object) -> None:
    text = str(value)
    expected = normalise_device_id(text)
    assert normalise_device_id(text.upper()) == expected
    assert normalise_device_id("{" + text + "}") == expected
    assert normalise_device_id(text.replace("-", "")) == expected


@given(st.text(max_size=40), st.sampled_from([None, *REGIONS]))
def test_all_normalisers_are_idempotent_on_any_text(text: str, region: str | None) -> None:
    for normalise in (normalise_email, normalise_device_id, normalise_ip):
        once = normalise(text)
        assert once is None or normalise(once) == once
    phone = normalise_phone(text, region)
    assert phone is None or normalise_phone(phone, region) == phone


# --- IP addresses ----------------------------------------------------------------------------


def test_ip_forms_and_scopes() -> None:
    assert normalise_ip(" 81.2.69.160 ") == "81.2.69.160"
    assert normalise_ip("::ffff:81.2.69.160") == "81.2.69.160"
    assert normalise_ip("2001:DB8:0:0::1") == "2001:db8::1"
    assert normalise_ip("999.1.1.1") is None
    assert ip_scope("81.2.69.160") == "public"
    assert ip_scope("203.0.113.7") == "reserved"  # documentation: never real traffic
    assert ip_scope("2001:db8::1") == "reserved"
    assert ip_scope("2a02:cf40::1") == "public"
    assert ip_scope("10.1.2.3") == "private"
    assert ip_scope("192.168.1.1") == "private"
    assert ip_scope("100.64.12.1") == "cgnat"
    assert ip_scope("127.0.0.1") == "loopback"
    assert ip_scope("fe80::1") == "link-local"
    assert ip_scope("fd00::1") == "private"


def test_00_prefix_is_international_even_with_a_region() -> None:
    # Brazil's national rules treat "00" + carrier code as domestic; providers mean "+55".
    assert normalise_phone("005511961407516", "BR") == "+5511961407516"
    assert normalise_phone("+55 11 96140-7516", "BR") == "+5511961407516"
    assert normalise_phone("(11) 96140-7516", "BR") == "+5511961407516"
