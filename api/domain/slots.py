"""Caps on calls in flight to a provider, shared by every worker process: the send job's
per channel (`SEND_CHANNEL_MAX_IN_FLIGHT`), the email job's at the SMTP server
(`MAIL_MAX_IN_FLIGHT`)."""

from __future__ import annotations

from typing import Protocol


class ProviderSlots(Protocol):
    """A cap on calls in flight per key (a channel, the SMTP server), shared by every worker
    process, so a provider that hangs holds at most that many of the workers' threads."""

    async def acquire(self, key: str, holder: str, *, limit: int, hold_seconds: float) -> bool:
        """Take a slot of `key` for `holder` (for `hold_seconds` at most: a holder that dies
        frees it then); False when `limit` holders have one."""
        ...

    async def release(self, key: str, holder: str) -> None:
        """Give `holder`'s slot of `key` back."""
        ...
