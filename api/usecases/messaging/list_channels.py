"""Listing the tenant's channels."""

from __future__ import annotations

from pydantic import BaseModel

from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelRepository, ChannelStatus, ChannelType
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.rules import ChannelPolicy, ChannelView, channel_view


class ChannelList(BaseModel):
    items: list[ChannelView]
    total: int


class ListChannels:
    """The tenant's channels, newest first (`channels:read`), disconnected ones included
    (their history is kept); `type` and `status` narrow the list."""

    def __init__(self, channels: ChannelRepository, policy: ChannelPolicy) -> None:
        self._channels = channels
        self._policy = policy

    async def execute(
        self,
        principal: Principal,
        *,
        type: ChannelType | None = None,
        status: ChannelStatus | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> ChannelList:
        require_permission(principal, Permission.CHANNELS_READ)
        found = await self._channels.search(
            type=type, status=status, skip=(page - 1) * page_size, limit=page_size
        )
        return ChannelList(
            items=[channel_view(c, self._policy) for c in found.items], total=found.total
        )
