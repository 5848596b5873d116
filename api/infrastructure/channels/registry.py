"""`ChannelGateways`: the gateway for a channel, from its provider's adapter.

`ProviderGateways` dispatches by channel type to one `ChannelProvider` per provider
(`default_providers`: each adapter caches its clients per channel and decrypts tokens
itself, never earlier); `parse_webhook` dispatches too. `close` (a `Closeable`) closes
every provider's clients at shutdown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import Channel, ChannelProfile, ChannelType
from api.domain.messaging.errors import ChannelPermanentFailure
from api.domain.messaging.events import InboundEvent
from api.domain.messaging.gateway import ChannelGateway
from api.infrastructure.channels.meta.provider import MetaMessagingProvider
from api.infrastructure.channels.provider import ChannelProvider, ClientOptions
from api.infrastructure.channels.telegram.provider import TelegramProvider
from api.infrastructure.channels.whatsapp.provider import WhatsAppProvider

__all__ = ["ClientOptions", "ProviderGateways", "default_providers"]


def default_providers(
    secret_box: SecretBox,
    options: ClientOptions,
    per_type: dict[ChannelType, ClientOptions] | None = None,
) -> dict[ChannelType, ChannelProvider]:
    """The adapter of each provider Parley speaks (a provider missing here has none);
    `per_type` overrides `options` for a provider."""
    chosen = per_type or {}
    return {
        ChannelType.WHATSAPP: WhatsAppProvider(
            secret_box, chosen.get(ChannelType.WHATSAPP, options)
        ),
        ChannelType.TELEGRAM: TelegramProvider(
            secret_box, chosen.get(ChannelType.TELEGRAM, options)
        ),
        ChannelType.MESSENGER: MetaMessagingProvider(ChannelType.MESSENGER, secret_box, options),
        ChannelType.INSTAGRAM: MetaMessagingProvider(ChannelType.INSTAGRAM, secret_box, options),
    }


class ProviderGateways:
    """The `ChannelGateways` adapter. One instance per process (its providers own the
    clients)."""

    def __init__(
        self,
        secret_box: SecretBox,
        options: ClientOptions | None = None,
        providers: dict[ChannelType, ChannelProvider] | None = None,
        per_type: dict[ChannelType, ClientOptions] | None = None,
    ) -> None:
        self._providers = (
            providers
            if providers is not None
            else default_providers(secret_box, options or ClientOptions(), per_type)
        )

    def for_channel(self, channel: Channel) -> ChannelGateway:
        return self._provider(channel.type).for_channel(channel)

    async def check(self, channel: Channel) -> ChannelProfile:
        return await self._provider(channel.type).check(channel)

    def forget(self, channel_id: str) -> None:
        for provider in self._providers.values():
            provider.forget(channel_id)

    def parse_webhook(self, type: ChannelType, payload: dict[str, Any]) -> list[InboundEvent]:
        return self._provider(type).parse_webhook(payload)

    def cached_client_count(self) -> int:
        return sum(p.cached_client_count() for p in self._providers.values())

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self._providers.values()))

    def _provider(self, type: ChannelType) -> ChannelProvider:
        provider = self._providers.get(type)
        if provider is None:
            raise ChannelPermanentFailure(f"No adapter for {type.value} channels.")
        return provider
