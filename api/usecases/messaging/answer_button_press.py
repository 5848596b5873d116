"""Answering a customer's button press where the provider waits for it (Telegram's
`answerCallbackQuery`: until it is answered the button shows progress), once the press is
stored as an inbound message.

Rules: one answer per press id and channel (an atomic claim in the `IdempotencyGuard`,
remembered a day), whatever redeliveries or retries of the webhook item bring it again;
the answer is best effort: a refusal, a timeout or an unavailable claim store is logged
and never fails, nor repeats, the processing of the item (a press left unanswered only
leaves the button's progress showing until the customer's app gives up).
"""

from __future__ import annotations

import logging

from api.domain.errors import ServiceUnavailable
from api.domain.jobs import IdempotencyGuard
from api.domain.messaging.channels import Channel, ChannelRepository
from api.domain.messaging.gateway import ChannelGateways
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.rules import provider_call

log = logging.getLogger(__name__)
CLAIM_SECONDS = 60
KEEP_SECONDS = 24 * 3600


class AnswerButtonPress:
    def __init__(
        self, gateways: ChannelGateways, channels: ChannelRepository, guard: IdempotencyGuard
    ) -> None:
        self._gateways = gateways
        self._channels = channels
        self._guard = guard

    async def execute(self, channel: Channel, press_id: str) -> bool:
        """Whether this call answered the press."""
        key = f"press-answer:{channel.id}:{press_id}"
        try:
            if not await self._guard.claim(key, CLAIM_SECONDS):
                return False  # answered already (or being answered)
        except ServiceUnavailable:
            log.warning("button press %s of channel %s not answered: no claim store",
                        press_id, channel.id)  # fmt: skip
            return False
        answered = False
        try:
            with tenant_context(TenantId(channel.tenant_id) if channel.tenant_id else None):
                async with provider_call(self._channels, channel):  # 401: token_invalid
                    await self._gateways.for_channel(channel).answer_press(press_id)
            answered = True
        except Exception as exc:
            log.warning("button press %s of channel %s not answered: %s",
                        press_id, channel.id, exc)  # fmt: skip
        try:
            await self._guard.complete(key, KEEP_SECONDS)  # not tried again, answered or not
        except ServiceUnavailable:
            log.warning("button press %s: its answer could not be recorded", press_id)
        return answered
