"""Messenger's and Instagram's adapter behind the registry: one httpx pool per channel,
cached by channel id and keyed by what it was built from (token, Graph base URL, version,
account): a rotated token or a moved base builds a new one and closes the old. Tokens are
decrypted here, never earlier."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import httpx

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelProfile,
    ChannelType,
    InstagramSettings,
    MessengerSettings,
    credential_secret,
)
from api.domain.messaging.errors import ChannelPermanentFailure
from api.domain.messaging.events import InboundEvent
from api.domain.messaging.gateway import ChannelGateway
from api.infrastructure.channels.meta.gateway import (
    MetaAccount,
    MetaMessagingGateway,
    build_session,
)
from api.infrastructure.channels.meta.webhook import parse_meta_webhook
from api.infrastructure.channels.provider import ClientOptions, decrypted_secret


@dataclass
class _Cached:
    fingerprint: str
    session: httpx.AsyncClient
    token: str


def meta_account(channel: Channel) -> MetaAccount:
    """Where a Messenger or Instagram channel's calls go."""
    settings = channel.settings
    if isinstance(settings, MessengerSettings):
        return MetaAccount(
            provider="Messenger",
            base_url=f"{settings.graph_base_url}/{settings.api_version}",
            send_node=settings.page_id,
            profile_node=settings.page_id,
            profile_fields=("id", "name"),
            profile_field="name",
            profile_as="page_name",
            metadata=True,
        )
    if isinstance(settings, InstagramSettings):
        return MetaAccount(
            provider="Instagram",
            base_url=f"{settings.graph_base_url}/{settings.api_version}",
            send_node=settings.instagram_account_id,
            profile_node=settings.instagram_account_id,
            profile_fields=("id", "username", "name"),
            profile_field="username",
            profile_as="username",
            metadata=False,
        )
    raise ChannelPermanentFailure("The channel's settings are not Messenger's or Instagram's.")


class MetaMessagingProvider:
    """The `ChannelProvider` of Messenger or Instagram (one instance per type and process)."""

    def __init__(self, type: ChannelType, secret_box: SecretBox, options: ClientOptions) -> None:
        self._type = type
        self._box = secret_box
        self._options = options
        self._clients: dict[str, _Cached] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def for_channel(self, channel: Channel) -> ChannelGateway:
        if channel.id is None:
            raise ValueError("a stored channel has an id; use check() for a new one")
        account = meta_account(channel)
        token = decrypted_secret(self._box, channel, credential_secret(channel.type))
        fingerprint = hashlib.sha256(
            "\n".join((token, account.base_url, account.send_node)).encode()
        ).hexdigest()
        cached = self._clients.get(channel.id)
        if cached is None or cached.fingerprint != fingerprint:
            if cached is not None:
                self._close_later(cached.session)
            cached = _Cached(fingerprint, self._session(), token)
            self._clients[channel.id] = cached
        return MetaMessagingGateway(account, cached.session, cached.token)

    async def check(self, channel: Channel) -> ChannelProfile:
        account = meta_account(channel)
        token = decrypted_secret(self._box, channel, credential_secret(channel.type))
        session = self._session()
        try:
            return await MetaMessagingGateway(account, session, token).check()
        finally:
            await session.aclose()

    def forget(self, channel_id: str) -> None:
        cached = self._clients.pop(channel_id, None)
        if cached is not None:
            self._close_later(cached.session)

    def parse_webhook(self, payload: dict[str, Any]) -> list[InboundEvent]:
        return parse_meta_webhook(payload)

    def cached_client_count(self) -> int:
        return len(self._clients)

    async def close(self) -> None:
        cached, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.session.aclose() for c in cached), return_exceptions=True)
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=5)

    def _session(self) -> httpx.AsyncClient:
        return build_session(
            timeout_seconds=self._options.timeout_seconds,
            max_connections=self._options.max_connections,
        )

    def _close_later(self, session: httpx.AsyncClient) -> None:
        try:
            task = asyncio.get_running_loop().create_task(session.aclose())
        except RuntimeError:  # no loop: nothing can be in flight on it
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
