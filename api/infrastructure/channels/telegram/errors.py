"""Telegram's failures as the port's provider-neutral errors (the bot token masked)."""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram import error as tg

from api.domain.messaging.errors import (
    ChannelOutcomeUnknown,
    ChannelPermanentFailure,
    ChannelRateLimited,
    ChannelTokenInvalid,
    ChannelTransientFailure,
)


def _masked(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]


def retry_after_seconds(exc: tg.RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that the int form is deprecated
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def from_telegram_error(exc: tg.TelegramError, *, secrets: tuple[str, ...]) -> Exception:
    """429 (`parameters.retry_after`) → `ChannelRateLimited` with that delay; 401/404 →
    `ChannelTokenInvalid`; 403 (the user blocked the bot) and 400 → permanent; a timeout
    → outcome unknown; network failures and 5xx → transient."""
    detail = _masked(str(exc), secrets)
    if isinstance(exc, tg.RetryAfter):
        return ChannelRateLimited(retry_after_seconds(exc), detail, provider_code=429)
    if isinstance(exc, tg.InvalidToken):
        return ChannelTokenInvalid(detail, provider_code=401, provider_title="Unauthorized")
    if isinstance(exc, tg.Forbidden):
        return ChannelPermanentFailure(detail, provider_code=403, provider_title="Forbidden")
    if isinstance(exc, tg.BadRequest):
        return ChannelPermanentFailure(detail, provider_code=400, provider_title="Bad Request")
    if isinstance(exc, tg.TimedOut):
        return ChannelOutcomeUnknown(detail)
    if isinstance(exc, tg.NetworkError):
        return ChannelTransientFailure(detail)
    return ChannelPermanentFailure(detail, provider_title=type(exc).__name__)
