"""Money: a decimal amount in an ISO 4217 currency, stored as an integer of minor units.

The API takes and shows an amount as a decimal string (`"1234.50"`, never a float that
would round) with its currency code; the store keeps `value_minor` (an int: 123450 for
1234.50 EUR) and `currency`, so sums and comparisons are exact.

Rules (each a 422 with its own code):
- the currency is an active ISO 4217 code, upper case (`unknown_currency`); the fund and
  precious-metal codes (XAU, XDR, XTS, XXX, ...) have no minor unit and are not money;
- the amount is plain digits with at most one `.` (no sign, exponent, spaces or
  thousands separators) (`invalid_money_value`); a leading `-` is `negative_money_value`;
- it has no more decimals than the currency's minor unit (JPY 0, EUR 2, KWD 3, CLF 4)
  (`money_too_precise`); trailing zeros beyond it count (`"10.000"` EUR is refused: the
  caller meant something we cannot tell);
- at most `MAX_MINOR` minor units (`money_too_large`): well inside a 64-bit integer.
"""

from __future__ import annotations

import re

from api.domain.errors import FieldProblem, InvalidInput

MAX_MINOR = 10**15
_AMOUNT = re.compile(r"^(\d{1,20})(?:\.(\d{1,10}))?$")

# Active ISO 4217 codes by minor unit (the list published by SIX, 2025). Every code not
# named under 0, 3 or 4 has two decimals.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
    "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB "
    "EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS "
    "KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
    "MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
    "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS "
    "UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}


class InvalidMoney(InvalidInput):
    """The amount or the currency is not acceptable money (the subclasses say why)."""

    code = "invalid_money_value"
    title = "Invalid amount"


class NegativeMoney(InvalidMoney):
    code = "negative_money_value"
    title = "Negative amount"


class MoneyTooPrecise(InvalidMoney):
    code = "money_too_precise"
    title = "Too many decimals for the currency"


class MoneyTooLarge(InvalidMoney):
    code = "money_too_large"
    title = "Amount too large"


class UnknownCurrency(InvalidMoney):
    code = "unknown_currency"
    title = "Unknown currency"


class CurrencyRequired(InvalidMoney):
    """An amount without a currency (or a currency without an amount)."""

    code = "currency_required"
    title = "An amount needs its currency"


def minor_units(currency: str, field: str = "currency") -> int:
    """The currency's number of decimals (`UnknownCurrency` when not an active code)."""
    units = MINOR_UNITS.get(currency)
    if units is None:
        raise UnknownCurrency(
            f"{currency!r} is not an active ISO 4217 currency code.",
            [FieldProblem(("body", field), "not an active ISO 4217 currency code, such as EUR")],
        )
    return units


def to_minor(value: str, currency: str, field: str = "value") -> int:
    """`value` (a decimal string) in minor units of `currency`."""
    units = minor_units(currency)
    text = value.strip()
    loc = ("body", field)
    if text.startswith("-"):
        raise NegativeMoney("The amount cannot be negative.", [FieldProblem(loc, "negative")])
    match = _AMOUNT.match(text)
    if match is None:
        raise InvalidMoney(
            "The amount is a decimal number written as digits with an optional '.'.",
            [FieldProblem(loc, "not a decimal amount such as 1234.50")],
        )
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > units:
        raise MoneyTooPrecise(
            f"{currency} has {units} decimal(s); the amount has {len(fraction)}.",
            [FieldProblem(loc, f"more than {units} decimal(s) for {currency}")],
        )
    minor: int = int(whole) * 10**units + int(fraction.ljust(units, "0") or "0")
    if minor > MAX_MINOR:
        raise MoneyTooLarge(
            "The amount is too large.", [FieldProblem(loc, f"at most {MAX_MINOR} minor units")]
        )
    return minor


def from_minor(minor: int, currency: str) -> str:
    """The decimal string of `minor` units of `currency` (`123450, EUR` -> `"1234.50"`)."""
    units = MINOR_UNITS.get(currency, 2)
    if units == 0:
        return str(minor)
    whole, fraction = divmod(minor, 10**units)
    return f"{whole}.{fraction:0{units}d}"
