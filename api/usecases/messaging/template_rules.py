"""What the template use cases share: the sync job's name, 404s for what is not the
tenant's, the channel a template call may use, the provider's answers as stored fields,
and whether a template may be sent (`usable_template`, for campaigns and other senders).
"""

from __future__ import annotations

from api.domain.errors import Conflict, NotFound
from api.domain.messaging.channels import Channel, ChannelRepository, ChannelStatus
from api.domain.messaging.errors import (
    ChannelPermanentFailure,
    TemplateInactive,
    TemplateNotApproved,
    TemplateRejected,
    TemplateUnknown,
)
from api.domain.messaging.gateway import ProviderTemplate
from api.domain.messaging.templates import (
    APPROVED,
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
TEMPLATE_INACTIVE = "The template is deactivated here: activate it to send it."


async def existing_template(templates: TemplateRepository, template_id: str) -> Template:
    """The tenant's template; `NotFound` when absent or another tenant's."""
    found = await templates.get(template_id)
    if found is None:
        raise NotFound(TEMPLATE_NOT_FOUND)
    return found


async def usable_template(
    templates: TemplateRepository, channel_id: str, name: str, language: str
) -> Template:
    """The channel's template that may be sent now, for a campaign (or any sender that
    needs an approved template): check it when the campaign is scheduled and again before
    each run, then build each recipient's parameters with
    `api.domain.messaging.template_parameters.send_components(template, values)`, where
    `values` maps each `TemplateVariable.key` (`body.1`, `header.1`, `button.0.1`,
    `body.first_name`, `header.image`) to the recipient's value.

    Raises (all `TemplateUnusable`, an `InvalidInput`: 422 over HTTP):
    - `TemplateUnknown` (`template_unknown`): the channel (of the current tenant) has no
      stored template with this name and language; sync the channel's templates;
    - `TemplateNotApproved` (`template_not_approved`, with `template_status`): the
      provider has not approved it (PENDING, REJECTED, PAUSED, DISABLED, DELETED...);
    - `TemplateInactive` (`template_inactive`): the tenant deactivated it here.
    """
    template = await templates.find(channel_id, name, language)
    if template is None:
        raise TemplateUnknown(
            f"The channel has no template {name} ({language}); sync its templates first."
        )
    if template.status != APPROVED:
        raise TemplateNotApproved(template.status)
    if not template.active:
        raise TemplateInactive(TEMPLATE_INACTIVE)
    return template


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
