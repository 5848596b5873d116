"""Countries, time zones and phone numbers, as every context reads them.

- A country is an ISO 3166-1 alpha-2 code that has a phone numbering plan (the regions
  `phonenumbers` knows: every inhabited country and territory), upper case.
- A time zone is an IANA name the system's zone database (or `tzdata`) holds.
- A keyword (opt-out, opt-in) compares trimmed, inner whitespace collapsed, case folded.
- A phone number is parsed with `phonenumbers`: international (`+…`, or `00…`) as is,
  national in the given country; only a valid number is kept, in E.164.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

import phonenumbers


def is_country(code: str) -> bool:
    return code in phonenumbers.SUPPORTED_REGIONS


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    return name in _zones()


def e164(raw: str, country: str | None = None) -> str | None:
    """The number in E.164 (`+14155550123`), or None when it is not a valid number (or is
    national and no country is given)."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def keyword(text: str) -> str:
    """How keywords compare: trimmed, inner whitespace collapsed, case folded."""
    return " ".join(text.split()).casefold()
