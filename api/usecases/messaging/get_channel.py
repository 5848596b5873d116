"""Reading one channel."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.rules import (
    ChannelPolicy,
    ChannelView,
    channel_view,
    existing_channel,
)


class GetChannel:
    """One channel of the tenant (`channels:read`); another tenant's is 404."""

    def __init__(self, channels: ChannelRepository, policy: ChannelPolicy) -> None:
        self._channels = channels
        self._policy = policy

    async def execute(self, principal: Principal, channel_id: str) -> ChannelView:
        require_permission(principal, Permission.CHANNELS_READ)
        return channel_view(await existing_channel(self._channels, channel_id), self._policy)
