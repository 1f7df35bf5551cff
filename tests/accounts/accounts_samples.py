"""Synthetic identifiers for the accounts tests: valid phone numbers per region, helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from kaitiaki.accounts import AccountIdentifiers, Resolution

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
REGIONS = ("NZ", "AU", "GB", "US", "DE")
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class PhoneSample:
    region: str
    e164: str
    national: str
    international: str


def phone_samples() -> list[PhoneSample]:
    """A valid fixed-line and mobile number per region, in three written forms each."""
    samples = []
    for region in REGIONS:
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            number = phonenumbers.example_number_for_type(region, kind)
            assert number is not None and phonenumbers.is_valid_number(number)
            samples.append(
                PhoneSample(
                    region,
                    phonenumbers.format_number(number, PhoneNumberFormat.E164),
                    phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
                    phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
                )
            )
    return samples


def account(
    account_id: str,
    *,
    emails: tuple[str, ...] = (),
    phones: tuple[str, ...] = (),
    devices: tuple[str, ...] = (),
    region: str | None = None,
) -> AccountIdentifiers:
    return AccountIdentifiers(
        account_id, emails=emails, phones=phones, device_ids=devices, region=region
    )


def groups(resolution: Resolution) -> list[list[str]]:
    """The subjects of a resolution as sorted lists of account ids (order-free comparisons)."""
    return sorted(list(s.account_ids) for s in resolution.subjects)
