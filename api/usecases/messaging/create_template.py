"""Creating a message template and submitting it to the provider for approval."""

from __future__ import annotations

from typing import Any

from api.domain.errors import Conflict, FieldProblem, ServiceUnavailable
from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelRepository
from api.domain.messaging.errors import (
    ChannelPermanentFailure,
    ChannelTransientFailure,
    InvalidTemplate,
)
from api.domain.messaging.gateway import ChannelGateways, TemplateDraft
from api.domain.messaging.templates import (
    ParameterFormat,
    Template,
    TemplateRepository,
    normalized_status,
    parameter_format,
    template_problems,
    template_variables,
)
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.rules import provider_call
from api.usecases.messaging.template_rules import connected_channel, rejected

DUPLICATE = "The channel already has a template with this name and language."


class CreateTemplate:
    """Create a template on a channel's business account (`templates:manage`).

    Rules, in order: the template must follow the provider's rules (`template_problems`:
    name, language, category, one BODY with text, lengths, placeholders in order and
    each with its example), else 422 `invalid_template` with the field errors and
    nothing is sent; the channel must be the tenant's (404) and connected (409); the
    channel must not have this name and language yet (409). Then it is submitted
    (`parameter_format: NAMED` when its placeholders are named); a refusal is 422
    `template_rejected` with the provider's message (no secret), an unreachable
    provider 503. It is stored with the provider's id, status (usually PENDING) and
    category. Audited: `template.created`.
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

    async def execute(
        self,
        principal: Principal,
        *,
        channel_id: str,
        name: str,
        language: str,
        category: str,
        components: list[dict[str, Any]],
    ) -> Template:
        require_permission(principal, Permission.TEMPLATES_MANAGE)
        category = category.upper()
        problems = template_problems(name, language, category, components)
        if problems:
            raise InvalidTemplate(
                "The template breaks the provider's rules.",
                [FieldProblem(loc=loc, msg=msg) for loc, msg in problems],
            )
        channel = await connected_channel(self._channels, channel_id)
        if await self._templates.find(channel_id, name, language) is not None:
            raise Conflict(DUPLICATE)
        format = parameter_format(components)
        draft = TemplateDraft(
            name=name,
            language=language,
            category=category,
            components=components,
            parameter_format=format.value if format is ParameterFormat.NAMED else None,
        )
        try:
            async with provider_call(self._channels, channel):  # 190: token_invalid
                submitted = await self._gateways.for_channel(channel).create_template(draft)
        except ChannelTransientFailure as exc:
            raise ServiceUnavailable("provider", detail=exc.detail) from None
        except ChannelPermanentFailure as exc:
            raise rejected(exc) from None
        now = stored_now()
        saved = await self._templates.add(
            Template(
                channel_id=channel_id,
                waba_id=channel.business_account_id,
                external_id=submitted.external_id or None,
                name=name,
                language=language,
                category=(submitted.category or category).upper(),
                status=normalized_status(submitted.status),
                parameter_format=format,
                components=components,
                variables=template_variables(components),
                created_at=now,
                updated_at=now,
            )
        )
        await self._auditor.record(
            "template.created", "template", saved.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {
                "channel_id": channel_id, "name": name, "language": language,
                "category": saved.category, "status": saved.status,
                "external_id": saved.external_id,
            }),
        )  # fmt: skip
        return saved
