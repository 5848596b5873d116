"""WhatsApp's adapter behind the registry: one pywa client per channel token.

Clients (a pywa client and its httpx pool) are cached per channel id and keyed by what
they were built from (token, Graph base URL, version, number): a rotated token or a moved
base URL builds a new client and closes the old one. `close` closes them all at shutdown.
Tokens are decrypted here, never earlier.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import httpx
from pywa_async.client import WhatsApp

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelProfile,
    SecretName,
    WhatsAppSettings,
)
from api.domain.messaging.errors import ChannelPermanentFailure
from api.domain.messaging.events import InboundEvent
from api.domain.messaging.gateway import ChannelGateway
from api.infrastructure.channels.provider import ClientOptions, decrypted_secret
from api.infrastructure.channels.whatsapp.gateway import WhatsAppGateway, build_client
from api.infrastructure.channels.whatsapp.sender import GraphSender, close_all
from api.infrastructure.channels.whatsapp.webhook import parse_webhook


@dataclass
class _Cached:
    fingerprint: str
    client: WhatsApp
    session: httpx.AsyncClient
    token: str
    sender: GraphSender


class WhatsAppProvider:
    """The WhatsApp `ChannelProvider`. One instance per process (it owns the clients)."""

    def __init__(self, secret_box: SecretBox, options: ClientOptions) -> None:
        self._box = secret_box
        self._options = options
        self._clients: dict[str, _Cached] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def for_channel(self, channel: Channel) -> ChannelGateway:
        settings = _settings(channel)
        if channel.id is None:
            raise ValueError("a stored channel has an id; use check() for a new one")
        token = decrypted_secret(self._box, channel, SecretName.ACCESS_TOKEN)
        fingerprint = _fingerprint(settings, token)
        cached = self._clients.get(channel.id)
        if cached is None or cached.fingerprint != fingerprint:
            client, session = self._build(settings, token)
            if cached is not None:
                self._close_later(cached)
            cached = _Cached(fingerprint, client, session, token, self._sender(settings, token))
            self._clients[channel.id] = cached
        return WhatsAppGateway(settings, cached.client, cached.session, cached.token, cached.sender)

    async def check(self, channel: Channel) -> ChannelProfile:
        settings = _settings(channel)
        token = decrypted_secret(self._box, channel, SecretName.ACCESS_TOKEN)
        client, session = self._build(settings, token)
        sender = self._sender(settings, token)
        try:
            return await WhatsAppGateway(settings, client, session, token, sender).check()
        finally:
            await session.aclose()
            await sender.close()

    def forget(self, channel_id: str) -> None:
        cached = self._clients.pop(channel_id, None)
        if cached is not None:
            self._close_later(cached)

    def parse_webhook(self, payload: dict[str, Any]) -> list[InboundEvent]:
        return parse_webhook(payload)

    def cached_client_count(self) -> int:
        return len(self._clients)

    async def close(self) -> None:
        cached, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.session.aclose() for c in cached), return_exceptions=True)
        await close_all([c.sender for c in cached])
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=5)

    def _build(self, settings: WhatsAppSettings, token: str) -> tuple[WhatsApp, httpx.AsyncClient]:
        return build_client(
            settings,
            token,
            timeout_seconds=self._options.timeout_seconds,
            max_connections=self._options.max_connections,
        )

    def _sender(self, settings: WhatsAppSettings, token: str) -> GraphSender:
        return GraphSender(
            f"{settings.graph_base_url}/{settings.api_version}",
            token,
            timeout_seconds=self._options.timeout_seconds,
            max_connections=self._options.max_connections,
        )

    def _close_later(self, cached: _Cached) -> None:
        """Close a replaced client without holding the caller (calls in flight on it end
        with a transient failure, which their jobs retry)."""
        cached.sender.closed = True  # no new send on it from now on
        try:
            task = asyncio.get_running_loop().create_task(_close(cached))
        except RuntimeError:  # no loop: nothing can be in flight on it
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _settings(channel: Channel) -> WhatsAppSettings:
    if not isinstance(channel.settings, WhatsAppSettings):
        raise ChannelPermanentFailure("The channel's settings are not WhatsApp's.")
    return channel.settings


def _fingerprint(settings: WhatsAppSettings, token: str) -> str:
    material = "\n".join(
        (token, settings.graph_base_url, settings.api_version, settings.phone_number_id)
    )
    return hashlib.sha256(material.encode()).hexdigest()


async def _close(cached: _Cached) -> None:
    await cached.session.aclose()
    await cached.sender.close()
