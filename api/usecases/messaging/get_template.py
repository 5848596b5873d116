"""Reading one message template."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.templates import Template, TemplateRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.template_rules import existing_template


class GetTemplate:
    """One template of the tenant (`templates:read`); another tenant's is 404."""

    def __init__(self, templates: TemplateRepository) -> None:
        self._templates = templates

    async def execute(self, principal: Principal, template_id: str) -> Template:
        require_permission(principal, Permission.TEMPLATES_READ)
        return await existing_template(self._templates, template_id)
