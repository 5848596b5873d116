"""Disconnecting a channel: nothing is sent or received through it any more; its
conversations and messages stay."""

from __future__ import annotations

import logging

from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.channels import (
    ChannelRepository,
    ChannelSecrets,
    ChannelStatus,
    SecretName,
)
from api.domain.messaging.gateway import ChannelGateways
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.rules import CHANNEL_NOT_FOUND, existing_channel

log = logging.getLogger(__name__)


class DisconnectChannel:
    """Disconnect a channel (`channels:manage`).

    Rules: the channel stays (status `disconnected`, with its history) but its secrets are
    erased and its client closed (a Telegram bot's webhook is removed first, best
    effort); the provider account is free to be connected again (in
    this tenant or another). Disconnecting a disconnected channel changes nothing.
    Audited: `channel.disconnected`.
    """

    def __init__(
        self, channels: ChannelRepository, gateways: ChannelGateways, auditor: Auditor
    ) -> None:
        self._channels = channels
        self._gateways = gateways
        self._auditor = auditor

    async def execute(self, principal: Principal, channel_id: str) -> None:
        require_permission(principal, Permission.CHANNELS_MANAGE)
        channel = await existing_channel(self._channels, channel_id)
        if channel.status is ChannelStatus.DISCONNECTED:
            return
        updated = await self._channels.replace(
            channel.model_copy(
                update={
                    "status": ChannelStatus.DISCONNECTED,
                    "secrets": ChannelSecrets(),
                    "updated_at": stored_now(),
                }
            )
        )
        if updated is None:
            raise NotFound(CHANNEL_NOT_FOUND)
        if channel.secrets.has(SecretName.WEBHOOK_SECRET_TOKEN):  # a webhook Parley registered
            try:  # Telegram's deleteWebhook, best effort: disconnected either way
                await self._gateways.for_channel(channel).unregister_webhook()
            except Exception as exc:
                log.info("channel %s: webhook not removed (%s)", channel_id, type(exc).__name__)
        self._gateways.forget(channel_id)
        await self._auditor.record(
            "channel.disconnected", "channel", channel_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"status": {"from": channel.status.value,
                                                       "to": updated.status.value}}),
        )  # fmt: skip
