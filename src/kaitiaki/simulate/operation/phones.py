"""Valid, unique phone numbers per country, and the ways users type them.

A number is an example number of the country (``phonenumbers``' metadata) with its last digits
varied. Validating and formatting every number with ``phonenumbers`` is slow (it compiles
regular expressions per country, and 125 countries defeat ``re``'s cache), so each template is
checked on a sample first: when every sampled variant is valid and formats like the example, the
rest are made by putting the new digits into the example's formatted text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import phonenumbers

Fmt = phonenumbers.PhoneNumberFormat
FORMS = ("e164", "international", "idd", "national", "national-dashed")
NATIONAL_FORMS = ("national", "national-dashed")  # need the country to parse
STRIDE = 7919  # coprime to 10: stepping by it visits every suffix once, in scattered order
CHECKS = 20


def _fill(text: str, suffix: str) -> str:
    """``text`` with its last ``len(suffix)`` digits replaced by ``suffix``."""
    chars, k = list(text), len(suffix) - 1
    for i in range(len(chars) - 1, -1, -1):
        if k < 0:
            break
        if chars[i].isdigit():
            chars[i], k = suffix[k], k - 1
    return "".join(chars)


def format_all(number: phonenumbers.PhoneNumber) -> dict[str, str]:
    e164 = phonenumbers.format_number(number, Fmt.E164)
    national = phonenumbers.format_number(number, Fmt.NATIONAL)
    return {
        "e164": e164,
        "international": phonenumbers.format_number(number, Fmt.INTERNATIONAL),
        # Dialled from abroad: 00 almost everywhere, 011 from the North American plan.
        "idd": ("011" if number.country_code == 1 else "00") + e164[1:],
        "national": national,
        "national-dashed": national.replace(" ", "-"),
    }


@dataclass
class _Template:
    example: phonenumbers.PhoneNumber
    prefix: str  # the national digits kept
    vary: int  # how many trailing digits change
    forms: dict[str, str]  # the example, formatted
    fast: bool
    start: int
    used: int = 0

    def number(self, suffix: str) -> phonenumbers.PhoneNumber:
        return phonenumbers.PhoneNumber(
            country_code=self.example.country_code,
            national_number=int(self.prefix + suffix),
            italian_leading_zero=self.example.italian_leading_zero,
            number_of_leading_zeros=self.example.number_of_leading_zeros,
        )

    def next_suffix(self) -> str | None:
        if self.used >= 10**self.vary:
            return None
        value = (self.start + self.used * STRIDE) % 10**self.vary
        self.used += 1
        return str(value).zfill(self.vary)


class PhoneBook:
    """Hands out numbers no one else holds, as all the forms in ``FORMS``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.templates: dict[str, list[_Template]] = {}

    def _template(self, example: phonenumbers.PhoneNumber) -> _Template:
        digits = str(example.national_number)
        forms = format_all(example)
        for vary in range(min(6, len(digits) - 3), 1, -1):
            template = _Template(example, digits[:-vary], vary, forms, True, 0)
            if all(self._agrees(template) for _ in range(CHECKS)):
                template.start = self.rng.randrange(10**vary)
                return template
        vary = max(1, min(4, len(digits) - 3))
        return _Template(example, digits[:-vary], vary, forms, False, self.rng.randrange(10**vary))

    def _agrees(self, template: _Template) -> bool:
        suffix = str(self.rng.randrange(10**template.vary)).zfill(template.vary)
        number = template.number(suffix)
        if not phonenumbers.is_valid_number(number):
            return False
        fast = {k: _fill(v, suffix) for k, v in template.forms.items()}
        return fast == format_all(number)

    def _for(self, region: str) -> list[_Template]:
        if region not in self.templates:
            kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
            examples = [phonenumbers.example_number_for_type(region, kind) for kind in kinds]
            found = [e for e in examples if e is not None]
            if not found:
                raise RuntimeError(f"phonenumbers has no example number for {region}")
            self.templates[region] = [self._template(e) for e in found]
        return self.templates[region]

    def number(self, region: str) -> dict[str, str]:
        """A fresh valid number of ``region``, in every form of ``FORMS``."""
        for template in self._for(region):
            while (suffix := template.next_suffix()) is not None:
                if template.fast:
                    return {k: _fill(v, suffix) for k, v in template.forms.items()}
                number = template.number(suffix)
                if phonenumbers.is_valid_number(number):
                    return format_all(number)
        raise RuntimeError(f"ran out of phone numbers for {region}")
