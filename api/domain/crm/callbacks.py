"""Callback requests: a visitor asks, through a web form, to be called back.

A request arrives through the public form (no authentication; the tenant comes from the
request's tenant strategy) as `new`; staff assign it to a user (`assigned`), then call
back and `complete` it with an outcome note, or `cancel` it. Completed and cancelled are
final:

    new ──assign──▶ assigned ──assign──▶ assigned (reassigned)
     │                 │
     ├──complete──▶ completed ◀──complete──┤
     └──cancel────▶ cancelled ◀──cancel────┘

Any other move is `CallbackStateConflict` (409). The phone is kept in E.164; names, times
and notes are plain text of bounded length without control characters (a message may
hold line breaks and tabs).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from api.domain.errors import Conflict, FieldProblem, InvalidInput

NAME_MAX = 120
PHONE_MAX = 40
PREFERRED_TIME_MAX = 120
MESSAGE_MAX = 2000
OUTCOME_MAX = 2000
REASON_MAX = 500

COLLECTION = "crm_callback_requests"
RESOURCE = "callback_request"  # the audit entries' resource type


class CallbackStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CallbackAction(StrEnum):
    ASSIGN = "assign"
    COMPLETE = "complete"
    CANCEL = "cancel"


OPEN = frozenset({CallbackStatus.NEW, CallbackStatus.ASSIGNED})
ALLOWED_FROM: dict[CallbackAction, frozenset[CallbackStatus]] = {
    CallbackAction.ASSIGN: OPEN,
    CallbackAction.COMPLETE: OPEN,
    CallbackAction.CANCEL: OPEN,
}
RESULT_OF: dict[CallbackAction, CallbackStatus] = {
    CallbackAction.ASSIGN: CallbackStatus.ASSIGNED,
    CallbackAction.COMPLETE: CallbackStatus.COMPLETED,
    CallbackAction.CANCEL: CallbackStatus.CANCELLED,
}


def allowed(action: CallbackAction, status: CallbackStatus) -> bool:
    return status in ALLOWED_FROM[action]


class CallbackRequest(BaseModel):
    """One request to be called back, and what staff did with it."""

    id: str | None = None
    tenant_id: str | None = None
    name: str
    phone: str  # E.164
    preferred_time: str | None = None  # free text from the form ("weekdays after 5pm")
    message: str | None = None
    department_id: str | None = None
    contact_id: str | None = None  # the tenant's contact with this phone, when one existed
    status: CallbackStatus = CallbackStatus.NEW
    assignee_id: str | None = None
    assigned_at: datetime | None = None
    assigned_by: str | None = None
    outcome: str | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    cancel_reason: str | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    created_at: datetime
    updated_at: datetime


class CallbackFilter(BaseModel):
    """What a staff list narrows to (every given field must match)."""

    status: CallbackStatus | None = None
    assignee_id: str | None = None
    department_id: str | None = None


class CallbackPage(BaseModel):
    items: list[CallbackRequest]
    next_cursor: str | None = None


class CallbackRequestRepository(Protocol):
    """The current tenant's callback requests, within the caller's department scope (a
    request outside it is not found)."""

    async def add(self, request: CallbackRequest) -> CallbackRequest: ...

    async def get(self, request_id: str) -> CallbackRequest | None: ...

    async def move(
        self,
        request_id: str,
        statuses: frozenset[CallbackStatus],
        changes: dict[str, object],
    ) -> CallbackRequest | None:
        """Set `changes` atomically if the request's status is one of `statuses`; the
        request as it is then, or None when it is absent or in another status."""
        ...

    async def page(self, filter: CallbackFilter, *, cursor: str | None, limit: int) -> CallbackPage:
        """Newest first (`created_at`, then id); `next_cursor` when more follow."""
        ...


class CallbackContacts(Protocol):
    """The tenant's contacts, as callback requests link to them (the contacts live in the
    messaging context; CRM reads them through this port)."""

    async def by_phone(self, phone: str) -> str | None:
        """The id of the current tenant's contact with this E.164 number, if any."""
        ...


class CallbackStateConflict(Conflict):
    """The request's status does not allow this change (it is completed or cancelled)."""

    code = "callback_state_conflict"
    title = "Callback request state conflict"


class InvalidCallbackAssignee(InvalidInput):
    """The assignee cannot see the request: not an active user of the tenant, without
    `crm:read`, or limited to departments the request is not routed to."""

    code = "invalid_assignee"
    title = "Invalid assignee"

    def __init__(self) -> None:
        super().__init__(
            "The assignee must be an active user of this company who can see the request.",
            [FieldProblem(("body", "assignee_id"), "cannot be given this request")],
        )


class InvalidCallbackPhone(InvalidInput):
    """The phone cannot be read as a valid number (a national number is read in the
    company profile's `default_country`)."""

    code = "invalid_phone"
    title = "Invalid phone number"

    def __init__(self) -> None:
        super().__init__(
            "The phone number is not a valid number.",
            [FieldProblem(("body", "phone"), "not a valid phone number")],
        )


class UnknownCallbackDepartment(InvalidInput):
    """The form named a department the tenant does not have (malformed or unknown ids
    answer the same)."""

    code = "unknown_department"
    title = "Unknown department"

    def __init__(self) -> None:
        super().__init__(
            "No department of this company has this id.",
            [FieldProblem(("body", "department_id"), "not a department of this company")],
        )


_LINE_BREAKS = frozenset("\n\r\t\u2028\u2029")
_JOINERS = frozenset("\u200c\u200d")  # zero-width (non-)joiners: Persian names, emoji
_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def clean_text(
    value: str | None,
    field: str,
    *,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
) -> tuple[str | None, FieldProblem | None]:
    """`value` trimmed (None when blank), or the problem with it: too long, missing, or
    holding control or format characters (bidi overrides among them; zero-width joiners
    are allowed), line breaks and tabs only when `multiline`."""
    loc: tuple[str | int, ...] = ("body", field)
    text = (value or "").strip()
    if not text:
        return None, FieldProblem(loc, "must not be blank") if required else None
    if len(text) > max_length:
        return None, FieldProblem(loc, f"must be at most {max_length} characters")
    for char in text:
        if (multiline and char in _LINE_BREAKS) or char in _JOINERS:
            continue
        if unicodedata.category(char) in _REFUSED:  # NUL, ESC, bidi overrides, ...
            return None, FieldProblem(loc, "must not contain control characters")
    return text, None
