"""Telegram's adapter behind the registry: one `Bot` (python-telegram-bot, on an httpx
pool of its own) per channel, cached by channel id and keyed by the bot token and the Bot
API base, so a rotated token or a moved base builds a new one and closes the old. The bot
token is decrypted here, never earlier; it travels in Telegram's URLs, which is why the
process's httpx request log is kept at WARNING (`api.common.logging`)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import httpx
from telegram import Bot
from telegram.request import HTTPXRequest

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelProfile,
    SecretName,
    TelegramSettings,
)
from api.domain.messaging.errors import ChannelPermanentFailure
from api.domain.messaging.events import InboundEvent
from api.domain.messaging.gateway import ChannelGateway
from api.infrastructure.channels.provider import ClientOptions, decrypted_secret
from api.infrastructure.channels.telegram.gateway import TelegramGateway
from api.infrastructure.channels.telegram.webhook import parse_update


@dataclass
class _Client:
    fingerprint: str
    bot: Bot
    request: HTTPXRequest
    files: httpx.AsyncClient
    token: str

    async def close(self) -> None:
        await asyncio.gather(self.request.shutdown(), self.files.aclose(), return_exceptions=True)


class TelegramProvider:
    """The Telegram `ChannelProvider`. One instance per process (it owns the clients)."""

    def __init__(self, secret_box: SecretBox, options: ClientOptions) -> None:
        self._box = secret_box
        self._options = options
        self._clients: dict[str, _Client] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def for_channel(self, channel: Channel) -> ChannelGateway:
        settings = _settings(channel)
        if channel.id is None:
            raise ValueError("a stored channel has an id; use check() for a new one")
        token = decrypted_secret(self._box, channel, SecretName.BOT_TOKEN)
        fingerprint = hashlib.sha256(f"{token}\n{settings.api_base_url}".encode()).hexdigest()
        client = self._clients.get(channel.id)
        if client is None or client.fingerprint != fingerprint:
            if client is not None:
                self._close_later(client)
            client = self._build(fingerprint, settings, token)
            self._clients[channel.id] = client
        return TelegramGateway(settings, client.bot, client.files, client.token)

    async def check(self, channel: Channel) -> ChannelProfile:
        settings = _settings(channel)
        token = decrypted_secret(self._box, channel, SecretName.BOT_TOKEN)
        client = self._build("", settings, token)
        try:
            return await TelegramGateway(settings, client.bot, client.files, token).check()
        finally:
            await client.close()

    def forget(self, channel_id: str) -> None:
        client = self._clients.pop(channel_id, None)
        if client is not None:
            self._close_later(client)

    def parse_webhook(self, payload: dict[str, Any]) -> list[InboundEvent]:
        return parse_update(payload)

    def cached_client_count(self) -> int:
        return len(self._clients)

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=5)

    def _build(self, fingerprint: str, settings: TelegramSettings, token: str) -> _Client:
        timeout = self._options.timeout_seconds
        request = HTTPXRequest(
            connection_pool_size=self._options.max_connections,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
            media_write_timeout=timeout,
        )
        base = settings.api_base_url
        bot = Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=request,
            get_updates_request=request,
        )
        files = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        return _Client(fingerprint, bot, request, files, token)

    def _close_later(self, client: _Client) -> None:
        try:
            task = asyncio.get_running_loop().create_task(client.close())
        except RuntimeError:  # no loop: nothing can be in flight on it
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _settings(channel: Channel) -> TelegramSettings:
    if not isinstance(channel.settings, TelegramSettings):
        raise ChannelPermanentFailure("The channel's settings are not Telegram's.")
    return channel.settings
