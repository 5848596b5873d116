"""One-time sign-in codes: six digits sent by email or WhatsApp, stored as keyed hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class CodeCheck(StrEnum):
    ACCEPTED = "accepted"  # the right code, now spent
    WRONG = "wrong"  # a wrong guess, counted against the code
    INVALID = "invalid"  # no code, or it expired, was used or ran out of attempts


class SignInCodes(Protocol):
    """The current code of each user (one at a time: a new one replaces the previous).

    Only an HMAC of a code is stored. `check` spends one attempt atomically before it
    compares, so however many requests race, a code is compared at most `max_attempts`
    times and accepted at most once.
    """

    async def replace(
        self, *, tenant_id: str, user_id: str, code: str, now: datetime, expires_at: datetime
    ) -> None: ...

    async def check(
        self, *, tenant_id: str, user_id: str, code: str, now: datetime, max_attempts: int
    ) -> CodeCheck: ...


@dataclass(frozen=True)
class SignInCodePolicy:
    """The rules of sign-in codes, from `OTP_*` settings."""

    ttl_seconds: int = 300
    max_attempts: int = 5
    requests_per_identifier: int = 5
    verify_per_identifier: int = 10
    window_seconds: int = 900
    whatsapp_template: str = "sign_in_code"
    whatsapp_language: str = "en_US"
