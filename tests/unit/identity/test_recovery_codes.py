"""MFA recovery codes: their shape, and digests bound to the secret and the user."""

from __future__ import annotations

import re

import pytest

from api.infrastructure.security.recovery_codes import (
    ALPHABET,
    CODES_PER_SET,
    HmacRecoveryCodes,
)


def test_a_set_is_ten_distinct_readable_codes() -> None:
    codes = HmacRecoveryCodes("secret")
    shown = codes.new_set()
    assert len(shown) == CODES_PER_SET == len(set(shown))
    for code in shown:
        assert re.fullmatch(f"[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}", code), code
    assert not set(shown) & set(codes.new_set())
    assert not set("01ilo") & set(ALPHABET)


def test_digests_ignore_spacing_and_case_and_refuse_other_shapes() -> None:
    codes = HmacRecoveryCodes("secret")
    code = codes.new_set()[0]
    digest = codes.digest("u1", code)
    assert digest is not None and code not in digest and len(digest) == 64
    for typed in (code.upper(), code.replace("-", ""), f"  {code[:5]} {code[6:]} "):
        assert codes.digest("u1", typed) == digest
    for bad in ("123456", "", code[:-1], code + "x", code.replace(code[0], "0"), "é" * 10):
        assert codes.digest("u1", bad) is None


def test_digests_belong_to_one_user_and_one_secret() -> None:
    code = HmacRecoveryCodes("secret").new_set()[0]
    digest = HmacRecoveryCodes("secret").digest("u1", code)
    assert HmacRecoveryCodes("secret").digest("u2", code) != digest
    assert HmacRecoveryCodes("another").digest("u1", code) != digest
    with pytest.raises(ValueError, match="empty"):
        HmacRecoveryCodes("")
