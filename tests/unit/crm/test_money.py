"""Money: decimal strings to minor units and back, by each currency's decimals."""

from __future__ import annotations

import pytest

from api.domain.crm.money import (
    MAX_MINOR,
    MINOR_UNITS,
    InvalidMoney,
    MoneyTooLarge,
    MoneyTooPrecise,
    NegativeMoney,
    UnknownCurrency,
    from_minor,
    to_minor,
)


@pytest.mark.parametrize(
    ("value", "currency", "minor", "shown"),
    [
        ("1234.50", "EUR", 123450, "1234.50"),
        ("1234.5", "EUR", 123450, "1234.50"),
        ("1234", "EUR", 123400, "1234.00"),
        ("0", "USD", 0, "0.00"),
        ("0.01", "GBP", 1, "0.01"),
        ("1500", "JPY", 1500, "1500"),
        ("1.234", "KWD", 1234, "1.234"),
        ("1.2345", "CLF", 12345, "1.2345"),
        (" 7.5 ", "EUR", 750, "7.50"),
        ("007.50", "EUR", 750, "7.50"),
    ],
)
def test_amounts_round_trip(value: str, currency: str, minor: int, shown: str) -> None:
    assert to_minor(value, currency) == minor
    assert from_minor(minor, currency) == shown


@pytest.mark.parametrize(
    ("value", "currency", "error", "code"),
    [
        ("-1", "EUR", NegativeMoney, "negative_money_value"),
        ("-0.01", "EUR", NegativeMoney, "negative_money_value"),
        ("1.234", "EUR", MoneyTooPrecise, "money_too_precise"),
        ("10.000", "EUR", MoneyTooPrecise, "money_too_precise"),
        ("1.5", "JPY", MoneyTooPrecise, "money_too_precise"),
        ("1.23456", "CLF", MoneyTooPrecise, "money_too_precise"),
        ("1e5", "EUR", InvalidMoney, "invalid_money_value"),
        ("1,000.00", "EUR", InvalidMoney, "invalid_money_value"),
        ("", "EUR", InvalidMoney, "invalid_money_value"),
        (".5", "EUR", InvalidMoney, "invalid_money_value"),
        ("1.", "EUR", InvalidMoney, "invalid_money_value"),
        ("+1", "EUR", InvalidMoney, "invalid_money_value"),
        ("NaN", "EUR", InvalidMoney, "invalid_money_value"),
        ("1", "eur", UnknownCurrency, "unknown_currency"),
        ("1", "XAU", UnknownCurrency, "unknown_currency"),
        ("1", "ABC", UnknownCurrency, "unknown_currency"),
        ("10000000000000.01", "EUR", MoneyTooLarge, "money_too_large"),
    ],
)
def test_bad_amounts_are_refused_with_their_code(
    value: str, currency: str, error: type[InvalidMoney], code: str
) -> None:
    with pytest.raises(error) as caught:
        to_minor(value, currency)
    assert type(caught.value) is error and caught.value.code == code
    assert caught.value.problems


def test_the_largest_amount_passes() -> None:
    assert to_minor(str(MAX_MINOR // 100) + ".00", "EUR") == MAX_MINOR


def test_the_currency_table() -> None:
    assert MINOR_UNITS["EUR"] == 2 and MINOR_UNITS["JPY"] == 0 and MINOR_UNITS["BHD"] == 3
    assert all(len(code) == 3 and code.isupper() for code in MINOR_UNITS)
    assert len(MINOR_UNITS) > 150
