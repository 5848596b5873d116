"""Request and response bodies of the template routes (API.md's "Templates")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.domain.messaging.templates import Template, TemplatePage, TemplateVariable
from api.usecases.messaging.request_template_sync import SyncRequested

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
CURSOR_NOTE = "`null` on the last page; else pass it as `cursor` for the next one."


class TemplateSyncIn(BaseModel):
    model_config = _STRICT

    channel_id: str = Field(min_length=1, max_length=64)


class TemplateSyncOut(BaseModel):
    channel_id: str
    job_id: str = Field(description="The Celery job that reads the templates from Meta.")
    status: str = Field(description="`queued`")

    @classmethod
    def of(cls, requested: SyncRequested) -> TemplateSyncOut:
        return cls.model_validate(requested.model_dump())


class TemplateIn(BaseModel):
    model_config = _STRICT

    channel_id: str = Field(min_length=1, max_length=64)
    name: str = Field(
        min_length=1, max_length=512, description="Lowercase letters, digits, underscores."
    )
    language: str = Field(min_length=2, max_length=15, description="e.g. `en_US`, `pt_BR`")
    category: str = Field(
        min_length=1, max_length=32, description="MARKETING, UTILITY or AUTHENTICATION"
    )
    components: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=10,
        description=(
            "Meta's components: HEADER, BODY (required), FOOTER, BUTTONS; each placeholder "
            "(`{{1}}` or `{{first_name}}`) with its `example` (`body_text`, "
            "`body_text_named_params`, `header_text`, a URL button's `example`)."
        ),
    )


class TemplateVariableOut(BaseModel):
    key: str = Field(
        description=(
            "Stable name a campaign's variable mapping refers to: `header.1`, `body.2`, "
            "`body.first_name` (named), `button.1.1` (button 1, placeholder 1), "
            "`header.image` (a media header)"
        )
    )
    component: str = Field(description="`header`, `body` or `button`")
    index: int | str = Field(description="1-based position, or the named parameter's name")
    type: str = Field(
        description="`text`, or a media header's `image`, `video`, `document` (a link)"
    )
    example: str | None
    button_index: int | None = Field(description="The button's position (buttons only)")

    @classmethod
    def of(cls, variable: TemplateVariable) -> TemplateVariableOut:
        return cls.model_validate(variable.model_dump())


class TemplateOut(BaseModel):
    id: str
    channel_id: str
    waba_id: str
    external_id: str | None = Field(description="Meta's template id (`hsm_id`)")
    name: str
    language: str
    category: str | None
    status: str = Field(
        description=(
            "Meta's: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, IN_APPEAL...; DELETED "
            "once Meta no longer lists it."
        )
    )
    parameter_format: str = Field(description="POSITIONAL or NAMED")
    components: list[dict[str, Any]]
    variables: list[TemplateVariableOut]
    quality: str | None = Field(description="Meta's quality score: GREEN, YELLOW, RED, UNKNOWN")
    rejected_reason: str | None
    active: bool = Field(
        description=(
            "Parley's own switch (`/deactivate`, `/activate`): an inactive template is not "
            "sent (422 `template_inactive`); Meta is not told"
        )
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, template: Template) -> TemplateOut:
        return cls(
            id=template.id or "",
            variables=[TemplateVariableOut.of(v) for v in template.variables],
            **template.model_dump(exclude={"id", "tenant_id", "variables"}),
        )


class TemplatePageOut(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: TemplatePage) -> TemplatePageOut:
        return cls(items=[TemplateOut.of(t) for t in page.items], next_cursor=page.next_cursor)
