"""Deleting a message template, at the provider and then here."""

from __future__ import annotations

from api.domain.errors import ServiceUnavailable
from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelRepository, ChannelStatus
from api.domain.messaging.errors import (
    ChannelPermanentFailure,
    ChannelTransientFailure,
)
from api.domain.messaging.gateway import ChannelGateways
from api.domain.messaging.templates import DELETED, TemplateRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.messaging.rules import provider_call
from api.usecases.messaging.template_rules import existing_template, rejected


class DeleteTemplate:
    """Delete a template (`templates:manage`); another tenant's is 404.

    Rules: the provider deletes it first, by name and its own id (that one language
    only); a refusal is 422 `template_rejected` with the provider's message and nothing
    is removed here, an unreachable provider 503. A template the provider no longer has
    (`DELETED`), or whose channel is gone or disconnected, is only removed here. Then it
    is removed from Parley. Audited: `template.deleted`.
    """

    def __init__(
        self,
        channels: ChannelRepository,
        gateways: ChannelGateways,
        templates: TemplateRepository,
        auditor: Auditor,
    ) -> None:
        self._channels = channels
        self._gateways = gateways
        self._templates = templates
        self._auditor = auditor

    async def execute(self, principal: Principal, template_id: str) -> None:
        require_permission(principal, Permission.TEMPLATES_MANAGE)
        template = await existing_template(self._templates, template_id)
        channel = await self._channels.get(template.channel_id)
        at_provider = (
            template.status != DELETED
            and channel is not None
            and channel.status is not ChannelStatus.DISCONNECTED
        )
        if at_provider and channel is not None:
            gateway = self._gateways.for_channel(channel)
            try:
                async with provider_call(self._channels, channel):  # 190: token_invalid
                    await gateway.delete_template(template.name, template.external_id)
            except ChannelTransientFailure as exc:
                raise ServiceUnavailable("provider", detail=exc.detail) from None
            except ChannelPermanentFailure as exc:
                raise rejected(exc) from None
        await self._templates.delete(template_id)
        await self._auditor.record(
            "template.deleted", "template", template_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {
                "channel_id": template.channel_id, "name": template.name,
                "language": template.language, "external_id": template.external_id,
                "deleted_at_provider": at_provider,
            }),
        )  # fmt: skip
