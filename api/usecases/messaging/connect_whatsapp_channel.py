"""Connecting a WhatsApp Cloud API number to the tenant."""

from __future__ import annotations

from api.domain.identity.auth import Principal, SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelRepository,
    ChannelSecrets,
    ChannelType,
    SecretName,
    WhatsAppSettings,
)
from api.domain.messaging.gateway import ChannelGateways
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.plan_gate import PlanGate
from api.usecases.messaging.rules import (
    ChannelPolicy,
    ChannelView,
    audited_fields,
    channel_view,
    checked_profile,
    new_verify_token,
    stored_channel,
)


class ConnectWhatsAppChannel:
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

    def __init__(
        self,
        channels: ChannelRepository,
        gateways: ChannelGateways,
        secret_box: SecretBox,
        auditor: Auditor,
        policy: ChannelPolicy,
        gate: PlanGate,
    ) -> None:
        self._gate = gate
        self._channels = channels
        self._gateways = gateways
        self._box = secret_box
        self._auditor = auditor
        self._policy = policy

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
        profile = await checked_profile(
            self._gateways, channel, plaintexts=(access_token, app_secret or "")
        )
        saved = await stored_channel(self._channels, self._gate, channel, profile)
        await self._auditor.record(
            "channel.connected", "channel", saved.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"type": saved.type.value, **audited_fields(saved)}),
        )  # fmt: skip
        return channel_view(saved, self._policy)
