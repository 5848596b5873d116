"""Connecting a WhatsApp Cloud API number to the tenant."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.channels import (
    Channel,
    ChannelSecrets,
    ChannelType,
    SecretName,
    WhatsAppSettings,
)
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.connect_channel import ChannelConnector
from api.usecases.messaging.rules import (
    ChannelView,
    new_verify_token,
)


class ConnectWhatsAppChannel(ChannelConnector):
    """Connect a WhatsApp number (`channels:manage`).

    Rules: the credentials are checked with the Graph API (`GET /{version}/{phone_number_id}`)
    BEFORE anything is saved; a refusal or an unreachable Graph is 422
    `channel_check_failed` with Meta's message, secrets masked. A `phone_number_id`
    connected to another channel that is not disconnected, in any tenant, is 409 (a unique
    index decides, so two racing connects cannot both win). Graph base URL, API version
    and rate default to the deployment's; a verify token is generated when none is given.
    Secrets are encrypted before they are stored and never shown. A channel counts
    against the plan's `channels` (402 `plan_limit_reached` past it). Audited:
    `channel.connected`.
    """

    async def execute(
        self,
        principal: Principal,
        *,
        name: str,
        phone_number_id: str,
        waba_id: str,
        access_token: str,
        app_secret: str | None = None,
        verify_token: str | None = None,
        api_version: str | None = None,
        graph_base_url: str | None = None,
        messages_per_second: int | None = None,
    ) -> ChannelView:
        require_permission(principal, Permission.CHANNELS_MANAGE)
        secrets = ChannelSecrets().with_secret(
            SecretName.ACCESS_TOKEN, self._box.encrypt(access_token)
        )
        if app_secret:
            secrets = secrets.with_secret(SecretName.APP_SECRET, self._box.encrypt(app_secret))
        now = stored_now()
        channel = Channel(
            type=ChannelType.WHATSAPP,
            name=name,
            settings=WhatsAppSettings(
                phone_number_id=phone_number_id,
                waba_id=waba_id,
                api_version=api_version or self._policy.api_version,
                graph_base_url=self._policy.graph_base_url_for(graph_base_url),
            ),
            secrets=secrets,
            verify_token=verify_token or new_verify_token(),
            messages_per_second=messages_per_second or self._policy.messages_per_second,
            created_at=now,
            updated_at=now,
        )
        return await self._connected(
            principal, channel, plaintexts=(access_token, app_secret or "")
        )
