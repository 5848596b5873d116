"""Graph API failures of the Messenger Platform as Parley's provider-neutral channel errors.

- 4 (app call limit), 17 (user call limit), 32 (page call limit), 613 (calls within one
  hour), 80001-80006 (page, Instagram and Messenger rate limits): `ChannelRateLimited`;
  Meta sends no Retry-After, so a wait per code.
- HTTP 5xx, 429, codes 1 and 2, or `is_transient`: `ChannelTransientFailure`.
- 190 (token expired or revoked), 102 (session), or a bare 401: `ChannelTokenInvalid`.
- Anything else (10/2018278 outside the allowed window, 551 person unavailable, 100 bad
  parameter, 200 permission...): `ChannelPermanentFailure` with Meta's code and message.

Messages never carry the token (`scrub` masks it should Graph echo it).
"""

from __future__ import annotations

from typing import Any

from api.domain.messaging.errors import (
    ChannelPermanentFailure,
    ChannelRateLimited,
    ChannelTokenInvalid,
    ChannelTransientFailure,
)
from api.infrastructure.channels.whatsapp.errors import MAX_MESSAGE, scrub

RATE_LIMITS: dict[int, float] = {
    4: 60.0, 17: 60.0, 32: 60.0, 613: 60.0,
    80001: 60.0, 80002: 60.0, 80004: 60.0, 80005: 60.0, 80006: 60.0,
}  # fmt: skip
TOKEN_CODES = frozenset({190, 102})
TRANSIENT_CODES = frozenset({1, 2})

ChannelFailure = ChannelTransientFailure | ChannelPermanentFailure


def from_meta_error(
    status: int, error: dict[str, Any] | None, *, provider: str, secrets: tuple[str, ...]
) -> ChannelFailure:
    """Graph's `error` object (None when the answer had none) of an HTTP `status`."""
    error = error or {}
    raw_code = error.get("code")
    code = raw_code if isinstance(raw_code, int) else None
    message = scrub(str(error.get("message") or f"HTTP {status}"), secrets)[:MAX_MESSAGE]
    subcode = error.get("error_subcode")
    details = scrub(str(error["error_user_msg"]), secrets) if error.get("error_user_msg") else None
    if details is None and subcode:
        details = f"subcode {subcode}"
    described = f"{provider} refused the request ({code}): {message}"
    if code in RATE_LIMITS:
        return ChannelRateLimited(RATE_LIMITS[code], described, provider_code=code)
    if code in TOKEN_CODES or (status == 401 and code is None):
        return ChannelTokenInvalid(
            described, provider_code=code, provider_title=message, details=details
        )
    if status >= 500 or status == 429 or code in TRANSIENT_CODES or error.get("is_transient"):
        return ChannelTransientFailure(described, provider_code=code)
    return ChannelPermanentFailure(
        described, provider_code=code, provider_title=message, details=details
    )
