"""Switching a message template off and on in Parley (the provider is not told)."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.templates import Template, TemplateRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.messaging.template_rules import TEMPLATE_NOT_FOUND, existing_template


class ChangeTemplateActivation:
    """Deactivate or activate a template (`templates:manage`); another tenant's is 404.

    Rules: `active` is Parley's own flag (true by default; a sync never changes it). An
    inactive template cannot be sent: `POST /messages` with it is 422 `template_inactive`
    and campaigns refuse it (`usable_template`); it stays listed and approved at the
    provider. Repeating a change changes nothing. Audited: `template.deactivated`,
    `template.activated` (when the flag changed).
    """

    def __init__(self, templates: TemplateRepository, auditor: Auditor) -> None:
        self._templates = templates
        self._auditor = auditor

    async def execute(self, principal: Principal, template_id: str, *, active: bool) -> Template:
        require_permission(principal, Permission.TEMPLATES_MANAGE)
        before = await existing_template(self._templates, template_id)
        if before.active == active:
            return before
        after = await self._templates.set_active(template_id, active)
        if after is None:
            raise NotFound(TEMPLATE_NOT_FOUND)
        await self._auditor.record(
            "template.activated" if active else "template.deactivated", "template",
            template_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {
                "channel_id": after.channel_id, "name": after.name, "language": after.language,
            }),
        )  # fmt: skip
        return after
