"""Listing the tenant's message templates, newest first, by cursor."""

from __future__ import annotations

from api.domain.errors import InvalidInput
from api.domain.identity.auth import Principal
from api.domain.messaging.templates import TemplatePage, TemplateRepository, normalized_status
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.template_rules import MAX_TEMPLATE_PAGE


class ListTemplates:
    """The tenant's templates (`templates:read`), narrowed by channel, status (Meta's:
    APPROVED, PENDING, REJECTED, PAUSED, DISABLED, DELETED...; any case), category, a
    part of the name (`q`) and Parley's `active` flag."""

    def __init__(self, templates: TemplateRepository) -> None:
        self._templates = templates

    async def execute(
        self,
        principal: Principal,
        *,
        channel_id: str | None,
        status: str | None,
        category: str | None,
        q: str | None,
        cursor: str | None,
        limit: int,
        active: bool | None = None,
    ) -> TemplatePage:
        require_permission(principal, Permission.TEMPLATES_READ)
        if not 1 <= limit <= MAX_TEMPLATE_PAGE:
            raise InvalidInput(f"limit must be within 1..{MAX_TEMPLATE_PAGE}")
        return await self._templates.search(
            channel_id=channel_id,
            status=normalized_status(status) if status else None,
            category=category,
            q=q,
            cursor=cursor,
            limit=limit,
            active=active,
        )
