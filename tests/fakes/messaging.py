"""Fakes of the messaging ports: channels (one provider account connected once across
tenants, like the unique index) and the gateways' registry (checks answered or refused
as told, forgotten clients recorded)."""

from __future__ import annotations

import itertools
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from api.domain.errors import Conflict
from api.domain.messaging.channels import (
    Channel,
    ChannelPage,
    ChannelProfile,
    ChannelRepository,
    ChannelStatus,
    ChannelType,
    SecretName,
)
from api.domain.messaging.content import OutboundMessage, SendResult
from api.domain.messaging.events import InboundEvent
from api.domain.messaging.gateway import (
    ChannelGateway,
    ChannelGateways,
    MediaDownload,
    ProviderTemplate,
    TemplateDraft,
    TemplateSubmitted,
)
from api.domain.tenancy import current_tenant

PROFILE = ChannelProfile(
    display_phone_number="+1 555-010-0199", verified_name="Acme", quality_rating="GREEN"
)


class FakeChannels(ChannelRepository):
    """Channels of every tenant in memory; reads and writes within the current one."""

    def __init__(self) -> None:
        self.stored: dict[str, Channel] = {}
        self._ids = itertools.count(1)

    def _check_unique(self, channel: Channel) -> None:
        if channel.status is ChannelStatus.DISCONNECTED:
            return
        for other in self.stored.values():
            if (
                other.id != channel.id
                and other.status is not ChannelStatus.DISCONNECTED
                and (other.type, other.account_id) == (channel.type, channel.account_id)
            ):
                raise Conflict("duplicate account")

    async def add(self, channel: Channel) -> Channel:
        self._check_unique(channel)
        saved = channel.model_copy(
            update={"id": f"{next(self._ids):024x}", "tenant_id": current_tenant()}
        )
        self.stored[saved.id or ""] = saved
        return saved

    async def get(self, channel_id: str) -> Channel | None:
        found = self.stored.get(channel_id)
        return found if found and found.tenant_id == current_tenant() else None

    async def search(
        self, *, type: ChannelType | None, status: ChannelStatus | None, skip: int, limit: int
    ) -> ChannelPage:
        mine = [
            c
            for c in reversed(self.stored.values())
            if c.tenant_id == current_tenant()
            and (type is None or c.type is type)
            and (status is None or c.status is status)
        ]
        return ChannelPage(items=mine[skip : skip + limit], total=len(mine))

    async def replace(self, channel: Channel) -> Channel | None:
        if await self.get(channel.id or "") is None:
            return None
        self._check_unique(channel)
        self.stored[channel.id or ""] = channel
        return channel

    async def mark_token_invalid(
        self,
        channel_id: str,
        refused_token: str,
        at: datetime,
        *,
        secret: SecretName = SecretName.ACCESS_TOKEN,
    ) -> bool:
        found = await self.get(channel_id)
        if (
            found is None
            or found.status is not ChannelStatus.ACTIVE
            or found.secrets.get(secret) != refused_token
        ):
            return False
        self.stored[channel_id] = found.model_copy(
            update={"status": ChannelStatus.TOKEN_INVALID, "updated_at": at}
        )
        return True


class FakeGateways(ChannelGateways):
    """`check` answers `profile` or raises `refuse`; what it checked and forgot is kept."""

    def __init__(self) -> None:
        self.profile = PROFILE
        self.refuse: Exception | None = None
        self.checked: list[Channel] = []
        self.forgotten: list[str] = []

    def for_channel(self, channel: Channel) -> ChannelGateway:
        return _UnusedGateway()

    async def check(self, channel: Channel) -> ChannelProfile:
        self.checked.append(channel)
        if self.refuse is not None:
            raise self.refuse
        return self.profile

    def forget(self, channel_id: str) -> None:
        self.forgotten.append(channel_id)

    def parse_webhook(self, type: ChannelType, payload: dict[str, Any]) -> list[InboundEvent]:
        return []


class _UnusedGateway(ChannelGateway):
    """The channel use cases never call a gateway directly."""

    async def check(self) -> ChannelProfile:
        raise NotImplementedError

    async def send(self, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    async def mark_read(
        self, external_id: str, *, user_id: str | None = None, typing: bool = False
    ) -> None:
        raise NotImplementedError

    async def answer_press(self, press_id: str) -> None:
        raise NotImplementedError

    async def register_webhook(self, url: str, secret_token: str) -> None:
        raise NotImplementedError

    async def unregister_webhook(self) -> None:
        raise NotImplementedError

    def open_media(self, media_id: str) -> AbstractAsyncContextManager[MediaDownload]:
        raise NotImplementedError

    async def list_templates(self) -> list[ProviderTemplate]:
        raise NotImplementedError

    async def create_template(self, draft: TemplateDraft) -> TemplateSubmitted:
        raise NotImplementedError

    async def delete_template(self, name: str, external_id: str | None) -> None:
        raise NotImplementedError
