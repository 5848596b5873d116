"""What the template use cases share: the sync job's name, 404s for what is not the
tenant's, the channel a template call may use, and the provider's answers as stored
fields."""

from __future__ import annotations

from api.domain.errors import Conflict, NotFound
from api.domain.messaging.channels import Channel, ChannelRepository, ChannelStatus
from api.domain.messaging.errors import ChannelPermanentFailure, TemplateRejected
from api.domain.messaging.gateway import ProviderTemplate
from api.domain.messaging.templates import (
    ParameterFormat,
    Template,
    TemplateFields,
    TemplateRepository,
    normalized_status,
    parameter_format,
    template_variables,
)
from api.usecases.messaging.rules import existing_channel

SYNC_TEMPLATES_JOB = "parley.templates.sync"
TEMPLATE_NOT_FOUND = "Template not found."
CHANNEL_DISCONNECTED = "The channel is disconnected."
MAX_TEMPLATE_PAGE = 100


async def existing_template(templates: TemplateRepository, template_id: str) -> Template:
    """The tenant's template; `NotFound` when absent or another tenant's."""
    found = await templates.get(template_id)
    if found is None:
        raise NotFound(TEMPLATE_NOT_FOUND)
    return found


async def connected_channel(channels: ChannelRepository, channel_id: str) -> Channel:
    """The tenant's channel (`NotFound` otherwise), still connected (`Conflict` otherwise)."""
    channel = await existing_channel(channels, channel_id)
    if channel.status is ChannelStatus.DISCONNECTED:
        raise Conflict(CHANNEL_DISCONNECTED)
    return channel


def synced_fields(listed: ProviderTemplate) -> TemplateFields:
    """A template as the provider lists it, with its variables computed."""
    given = (listed.parameter_format or "").upper()
    return TemplateFields(
        external_id=listed.external_id or None,
        name=listed.name,
        language=listed.language,
        category=(listed.category or "").upper() or None,
        status=normalized_status(listed.status),
        parameter_format=(
            ParameterFormat(given)
            if given in ParameterFormat.__members__
            else parameter_format(listed.components)
        ),
        components=listed.components,
        variables=template_variables(listed.components),
        quality=listed.quality,
        rejected_reason=_reason(listed.rejected_reason),
    )


def _reason(reason: str | None) -> str | None:
    return None if reason in (None, "", "NONE") else reason


def rejected(refusal: ChannelPermanentFailure) -> TemplateRejected:
    """The provider's refusal as a 422: its message, title and details (the adapter
    already masked the channel's secrets in them)."""
    parts = [refusal.detail]
    for extra in (refusal.provider_title, refusal.details):
        if extra and all(extra not in part for part in parts):
            parts.append(extra)
    return TemplateRejected(" ".join(p.rstrip(".") + "." for p in parts))
