"""What connecting a channel of any provider shares: check the credentials with the
provider before anything is saved, store the channel against the plan's limit, register
the provider's webhook where it has one (freeing the account again should that fail),
audit, and show the channel without its secrets."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from api.domain.identity.auth import Principal, SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelProfile,
    ChannelRepository,
    ChannelSecrets,
    ChannelStatus,
)
from api.domain.messaging.gateway import ChannelGateways
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra
from api.usecases.kernel.plan_gate import PlanGate
from api.usecases.messaging.rules import (
    ChannelPolicy,
    ChannelView,
    audited_fields,
    channel_view,
    checked_profile,
    registered_webhook,
    stored_channel,
)


class ChannelConnector:
    """The base of the connect use cases: each builds its provider's `Channel` (secrets
    encrypted) and hands it to `_connected`."""

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

    async def _connected(
        self,
        principal: Principal,
        channel: Channel,
        *,
        plaintexts: tuple[str, ...],
        accept: Callable[[ChannelProfile], None] | None = None,
    ) -> ChannelView:
        """`plaintexts`: the secrets given, masked in a refusal's reason; `accept` may
        refuse the provider's profile (raising) before anything is stored."""
        profile = await checked_profile(self._gateways, channel, plaintexts=plaintexts)
        if accept is not None:
            accept(profile)
        saved = await stored_channel(self._channels, self._gate, channel, profile)
        assert saved.id is not None  # noqa: S101 - stored
        try:
            await registered_webhook(self._gateways, self._box, saved, self._policy)
        except Exception:
            with contextlib.suppress(Exception):  # free the account for another attempt
                freed = {"status": ChannelStatus.DISCONNECTED, "secrets": ChannelSecrets()}
                await self._channels.replace(saved.model_copy(update=freed))
                self._gateways.forget(saved.id)
            raise
        await self._auditor.record(
            "channel.connected", "channel", saved.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"type": saved.type.value, **audited_fields(saved)}),
        )  # fmt: skip
        return channel_view(saved, self._policy)
