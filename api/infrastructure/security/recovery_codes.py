"""`RecoveryCodes` adapter: ten codes of ten characters (`xxxxx-xxxxx`, 50 random bits
each) from an alphabet without look-alikes, stored as HMAC-SHA256 digests keyed from a
server-side secret and bound to their user.

A fast keyed hash is right here (as for API keys, unlike passwords): each code carries 50
random bits, guesses are limited per user, and without the server's secret a leaked
digest cannot be tested at all. The user id is part of the digested message, so one
user's digest never matches a code for another.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from api.infrastructure.security.derived_keys import derived_key

CODES_PER_SET = 10
CODE_LENGTH = 10
# Lower-case letters and digits without 0/o, 1/l/i: read aloud or typed from paper.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
_SHAPE = re.compile(f"[{ALPHABET}]{{{CODE_LENGTH}}}")
_IGNORED = str.maketrans("", "", " -\t")


class HmacRecoveryCodes:
    """Makes recovery code sets and digests presented codes; `hash_secret` keys the HMAC."""

    def __init__(self, hash_secret: str) -> None:
        self._secret = derived_key(hash_secret, b"parley-mfa-recovery-codes", what="recovery code")

    def new_set(self) -> list[str]:
        codes: set[str] = set()
        while len(codes) < CODES_PER_SET:
            raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            codes.add(f"{raw[:5]}-{raw[5:]}")
        return sorted(codes)

    def digest(self, user_id: str, code: str) -> str | None:
        candidate = code.translate(_IGNORED).lower()
        if not _SHAPE.fullmatch(candidate):
            return None
        message = f"{user_id}\x00{candidate}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
