"""The templates' handler of inbound events, in the shape the webhook dispatcher calls:
the provider's template status, quality and category updates change the stored
templates of the channel's business account."""

from __future__ import annotations

import logging
from typing import Any

from api.domain.messaging.channels import Channel
from api.domain.messaging.events import InboundEvent, TemplateChange, TemplateUpdated
from api.domain.messaging.templates import REJECTED, TemplateRepository, normalized_status
from api.usecases.kernel.clock import stored_now

log = logging.getLogger(__name__)


class HandleTemplateEvents:
    """Apply a `TemplateUpdated` in the channel's tenant.

    Rules: the event names the business account (`account_id`) and the provider's
    template id; only an account that is the channel's own counts (another is ignored, so
    a tenant's webhook cannot touch templates of an account it does not hold). Every
    template of the tenant with that account and id changes (a tenant with several
    numbers on one account has one copy per channel): `status` (REINSTATED reads
    APPROVED) with `rejected_reason` (kept only while REJECTED), `quality`, `category`.
    A template Parley never stored (created elsewhere, not synced yet) changes nothing:
    the next sync brings it. Repeats set the same values (idempotent).
    """

    event_types = frozenset({"template_updated"})

    def __init__(self, templates: TemplateRepository) -> None:
        self._templates = templates

    async def handle(self, channel: Channel, event: InboundEvent) -> None:
        if not isinstance(event, TemplateUpdated):
            return
        business = channel.business_account_id
        if business is None:  # a provider without templates
            return
        if event.account_id and event.account_id != business:
            log.info("template event of business account %s ignored on channel %s",
                     event.account_id, channel.id)  # fmt: skip
            return
        changes = _changes(event)
        if not changes:
            return
        matched = await self._templates.apply_update(
            business, event.template_id, changes, stored_now()
        )
        if not matched:
            log.info("template %s of %s is not stored yet", event.template_id, business)


def _changes(event: TemplateUpdated) -> dict[str, Any]:
    if event.change is TemplateChange.STATUS and event.status:
        status = normalized_status(event.status)
        reason = event.reason if event.reason not in (None, "", "NONE") else None
        return {"status": status, "rejected_reason": reason if status == REJECTED else None}
    if event.change is TemplateChange.QUALITY and event.quality:
        return {"quality": event.quality}
    if event.change is TemplateChange.CATEGORY and event.category:
        return {"category": event.category.upper()}
    return {}
