"""Connecting a Facebook Page (Messenger) or an Instagram professional account
(Instagram Direct) to the tenant."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.channels import (
    Channel,
    ChannelSecrets,
    ChannelSettings,
    ChannelType,
    InstagramSettings,
    MessengerSettings,
    SecretName,
    credential_secret,
)
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.connect_channel import ChannelConnector
from api.usecases.messaging.rules import (
    ChannelView,
    new_verify_token,
)


class _ConnectMeta(ChannelConnector):
    async def _connect(
        self,
        principal: Principal,
        type: ChannelType,
        *,
        name: str,
        settings: ChannelSettings,
        token: str,
        app_secret: str,
        verify_token: str | None,
        messages_per_second: int | None,
    ) -> ChannelView:
        require_permission(principal, Permission.CHANNELS_MANAGE)
        secrets = (
            ChannelSecrets()
            .with_secret(credential_secret(type), self._box.encrypt(token))
            .with_secret(SecretName.APP_SECRET, self._box.encrypt(app_secret))
        )
        now = stored_now()
        channel = Channel(
            type=type,
            name=name,
            settings=settings,
            secrets=secrets,
            verify_token=verify_token or new_verify_token(),
            messages_per_second=messages_per_second or self._policy.messages_per_second,
            created_at=now,
            updated_at=now,
        )
        return await self._connected(principal, channel, plaintexts=(token, app_secret))


class ConnectMessengerChannel(_ConnectMeta):
    """Connect a Facebook Page for Messenger (`channels:manage`).

    Rules: the page access token is checked with the Graph API (`GET
    /{version}/{page_id}?fields=id,name`) BEFORE anything is saved; a refusal or an
    unreachable Graph is 422 `channel_check_failed` with Meta's message, secrets masked.
    A `page_id` connected to another channel that is not disconnected, in any tenant, is
    409. The app secret (webhook signatures) is required. Graph base URL, API version and
    rate default to the deployment's; a verify token is generated when none is given;
    `human_agent_tag` lets agents answer for 7 days with Meta's HUMAN_AGENT tag. Secrets
    are encrypted before they are stored and never shown. Audited: `channel.connected`.
    """

    async def execute(
        self,
        principal: Principal,
        *,
        name: str,
        page_id: str,
        page_access_token: str,
        app_secret: str,
        verify_token: str | None = None,
        api_version: str | None = None,
        graph_base_url: str | None = None,
        messages_per_second: int | None = None,
        human_agent_tag: bool = False,
    ) -> ChannelView:
        require_permission(principal, Permission.CHANNELS_MANAGE)
        settings = MessengerSettings(
            page_id=page_id,
            api_version=api_version or self._policy.api_version,
            graph_base_url=self._policy.graph_base_url_for(graph_base_url),
            human_agent_tag=human_agent_tag,
        )
        return await self._connect(
            principal, ChannelType.MESSENGER, name=name, settings=settings,
            token=page_access_token, app_secret=app_secret, verify_token=verify_token,
            messages_per_second=messages_per_second,
        )  # fmt: skip


class ConnectInstagramChannel(_ConnectMeta):
    """Connect an Instagram professional account for Instagram Direct (`channels:manage`).

    Rules as Messenger's: the access token is checked with the Graph API (`GET
    /{version}/{instagram_account_id}?fields=id,username,name`) before anything is saved
    (422 `channel_check_failed`); an `instagram_account_id` already connected, in any
    tenant, is 409; the app secret is required (webhook signatures and the data deletion
    callback's signed requests). Audited: `channel.connected`.
    """

    async def execute(
        self,
        principal: Principal,
        *,
        name: str,
        instagram_account_id: str,
        page_id: str,
        access_token: str,
        app_secret: str,
        verify_token: str | None = None,
        api_version: str | None = None,
        graph_base_url: str | None = None,
        messages_per_second: int | None = None,
        human_agent_tag: bool = False,
    ) -> ChannelView:
        require_permission(principal, Permission.CHANNELS_MANAGE)
        settings = InstagramSettings(
            instagram_account_id=instagram_account_id,
            page_id=page_id,
            api_version=api_version or self._policy.api_version,
            graph_base_url=self._policy.graph_base_url_for(graph_base_url),
            human_agent_tag=human_agent_tag,
        )
        return await self._connect(
            principal, ChannelType.INSTAGRAM, name=name, settings=settings,
            token=access_token, app_secret=app_secret, verify_token=verify_token,
            messages_per_second=messages_per_second,
        )  # fmt: skip
