"""Callback requests as clients see them: the public form, the staff views and actions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.domain.crm.callbacks import (
    MESSAGE_MAX,
    NAME_MAX,
    OUTCOME_MAX,
    PHONE_MAX,
    PREFERRED_TIME_MAX,
    REASON_MAX,
    CallbackRequest,
    CallbackStatus,
)
from api.usecases.crm.submit_callback_request import CallbackForm


class CallbackFormIn(BaseModel):
    """What a web form posts. Text is trimmed; control characters are refused (the
    message may hold line breaks)."""

    name: str = Field(max_length=NAME_MAX, description="Who to call (required).")
    phone: str = Field(
        max_length=PHONE_MAX,
        description=(
            "The number to call: international (`+…`) or national in the company profile's "
            "`default_country`; kept in E.164. An invalid number is 422 `invalid_phone`."
        ),
    )
    preferred_time: str | None = Field(
        default=None,
        max_length=PREFERRED_TIME_MAX,
        description='When to call, as the visitor wrote it ("weekdays after 5pm").',
    )
    message: str | None = Field(default=None, max_length=MESSAGE_MAX)
    department_id: str | None = Field(
        default=None,
        max_length=64,
        description="The department to route to; not one of the company's: 422 "
        "`unknown_department`.",
    )
    website: str | None = Field(
        default=None,
        description=(
            "The honeypot: render it hidden (e.g. off-screen, `tabindex=-1`, "
            "`autocomplete=off`) and leave it empty. A filled one is answered 202 like any "
            "request, but nothing is stored or sent."
        ),
    )

    def to_form(self) -> CallbackForm:
        return CallbackForm(**self.model_dump())


class CallbackAcceptedOut(BaseModel):
    id: str


class CallbackRequestOut(BaseModel):
    id: str
    name: str
    phone: str
    preferred_time: str | None
    message: str | None
    department_id: str | None
    contact_id: str | None = Field(description="The contact with this number, when one existed.")
    status: CallbackStatus
    assignee_id: str | None
    assigned_at: datetime | None
    assigned_by: str | None
    outcome: str | None
    completed_at: datetime | None
    completed_by: str | None
    cancel_reason: str | None
    cancelled_at: datetime | None
    cancelled_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, request: CallbackRequest) -> CallbackRequestOut:
        return cls(**request.model_dump(exclude={"id", "tenant_id"}), id=request.id or "")


class CallbackPageOut(BaseModel):
    items: list[CallbackRequestOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null: the end."
    )


class AssignCallbackIn(BaseModel):
    assignee_id: str = Field(
        min_length=1, max_length=64, description="An active user who holds `crm:read`."
    )


class CompleteCallbackIn(BaseModel):
    outcome: str = Field(
        min_length=1, max_length=OUTCOME_MAX, description="What came of the call (required)."
    )


class CancelCallbackIn(BaseModel):
    reason: str | None = Field(default=None, max_length=REASON_MAX)
