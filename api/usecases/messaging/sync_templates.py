"""Reading a channel's templates from the provider and storing them (runs in a job)."""

from __future__ import annotations

import logging

from api.domain.messaging.channels import ChannelRepository, ChannelStatus
from api.domain.messaging.gateway import ChannelGateways
from api.domain.messaging.templates import SyncOutcome, TemplateRepository
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.rules import provider_call
from api.usecases.messaging.template_rules import synced_fields

log = logging.getLogger(__name__)


class SyncTemplates:
    """Sync one channel's templates with its business account, in the job's tenant.

    Rules: every page of the provider's list is read first; nothing is written when any
    call fails (a transient failure is retried by the job; a refusal fails it). Then each
    template is upserted by (channel, name, language) with its status, category,
    components, computed variables, quality and rejection reason; only what changed is
    written. A template the provider no longer lists is kept with status `DELETED` (not
    removed: messages and campaigns that named it still resolve, and a later sync that
    sees it again revives it). A channel that is gone or disconnected syncs nothing.
    Audited (when something changed): `template.synced` with the counts.
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

    async def execute(self, channel_id: str) -> SyncOutcome:
        channel = await self._channels.get(channel_id)
        if channel is None or channel.status is ChannelStatus.DISCONNECTED:
            log.info("template sync of channel %s skipped: gone or disconnected", channel_id)
            return SyncOutcome()
        business = channel.business_account_id
        if business is None:  # the provider has no templates (Telegram, Messenger...)
            log.info("template sync of channel %s skipped: no templates", channel_id)
            return SyncOutcome()
        async with provider_call(self._channels, channel):  # 190: token_invalid
            listed = await self._gateways.for_channel(channel).list_templates()
        outcome = await self._templates.upsert_synced(
            channel_id,
            business,
            [synced_fields(template) for template in listed],
            stored_now(),
        )
        if outcome.created or outcome.updated or outcome.deleted:
            await self._auditor.record(
                "template.synced", "channel", channel_id, actor_id=None,
                changes={"listed": len(listed), **outcome.model_dump()},
            )  # fmt: skip
        return outcome
