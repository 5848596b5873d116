"""Graph API failures as Parley's provider-neutral channel errors.

- 130429 (throughput), 131056 (too many messages to one user), 4 and 80007 (app and
  business account call limits): `ChannelRateLimited`, with how long to wait.
- HTTP 5xx, Graph's transient codes (1, 2, 131000, 131016, 133004, or `is_transient`),
  and a connection that could not be made: `ChannelTransientFailure`; a request sent
  without an answer (read timeout, connection lost after writing it):
  `ChannelOutcomeUnknown`, a transient failure that may have been accepted.
- 190 (token expired or revoked; also a bare 401): `ChannelTokenInvalid`.
- Anything else (131047 window closed, 131026 undeliverable, 131049 per-user marketing
  limit, 131050 marketing stopped, 131051 unsupported type, 100 bad parameter...):
  `ChannelPermanentFailure` with Meta's code, title and details.

Messages never carry the token: Graph does not echo it, and `scrub` masks it anyway.
"""

from __future__ import annotations

import httpx
from pywa_async.errors import WhatsAppError

from api.domain.messaging.errors import (
    ChannelOutcomeUnknown,
    ChannelPermanentFailure,
    ChannelRateLimited,
    ChannelTokenInvalid,
    ChannelTransientFailure,
)

THROUGHPUT = 130429
PAIR_RATE = 131056
TOKEN_INVALID = 190
# Seconds to wait before retrying, by code (Meta sends no Retry-After).
RATE_LIMITS: dict[int, float] = {THROUGHPUT: 1.0, PAIR_RATE: 6.0, 4: 60.0, 80007: 60.0}
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016, 133004})
MAX_MESSAGE = 300

ChannelFailure = ChannelTransientFailure | ChannelPermanentFailure


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def from_graph_error(error: WhatsAppError, *, secrets: tuple[str, ...] = ()) -> ChannelFailure:
    code = error.code
    message = scrub(error.message or "", secrets)[:MAX_MESSAGE]  # a proxy's HTML page...
    title = scrub(error.user_title or message, secrets) or None
    details = error.details if isinstance(error.details, str) else None
    if details is None and isinstance(error.user_msg, str):  # e.g. a template refused
        details = error.user_msg
    details = scrub(details, secrets) if details else None
    described = f"WhatsApp refused the request ({code}): {message}".rstrip(": ")
    status = error.status_code
    if code in RATE_LIMITS:
        return ChannelRateLimited(RATE_LIMITS[code], described, provider_code=code)
    if code == TOKEN_INVALID or (status == 401 and code not in RATE_LIMITS):
        return ChannelTokenInvalid(
            described, provider_code=code, provider_title=title, details=details
        )
    if (status is not None and status >= 500) or code in TRANSIENT_CODES or error.is_transient:
        return ChannelTransientFailure(described, provider_code=code)
    return ChannelPermanentFailure(
        described, provider_code=code, provider_title=title, details=details
    )


def from_transport_error(error: httpx.HTTPError, provider: str = "WhatsApp") -> ChannelFailure:
    """A call that got no Graph answer (timeout, refused or dropped connection), or an
    answer that is not Graph's JSON."""
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        if status >= 500 or status == 429:
            return ChannelTransientFailure(f"{provider} answered HTTP {status}.")
        if status == 401:
            return ChannelTokenInvalid(f"{provider} answered HTTP {status}.")
        return ChannelPermanentFailure(f"{provider} answered HTTP {status}.")
    if isinstance(error, _NOT_SENT):
        return ChannelTransientFailure(f"{provider} could not be reached ({type(error).__name__}).")
    return ChannelOutcomeUnknown(f"{provider} did not answer ({type(error).__name__}).")


# Failures before the request left: it surely did not reach the provider.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
