"""`Totp` adapter on pyotp: RFC 6238 codes, 6 digits, 30-second steps."""

from __future__ import annotations

import re

import pyotp

_CODE = re.compile(r"[0-9]{6}")


class PyOtpTotp:
    """TOTP secrets, provisioning URIs and code checks (one step of clock drift allowed).

    Replay of a code within its window is not prevented here; the caller should remember
    the last accepted step per user if that matters.
    """

    def new_secret(self) -> str:
        return pyotp.random_base32()

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)

    def verify(self, secret: str, code: str) -> bool:
        candidate = code.replace(" ", "").strip()
        if not _CODE.fullmatch(candidate):
            return False
        try:
            # pyotp compares with hmac.compare_digest (constant time).
            return pyotp.TOTP(secret).verify(candidate, valid_window=1)
        except ValueError:  # a malformed secret (binascii.Error is a ValueError)
            return False
