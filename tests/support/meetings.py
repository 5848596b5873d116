"""Helpers for meeting tests: a meeting body, creating one, and reading the reminder rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import punq

from api.domain.crm.meetings import Reminder, ReminderRepository
from api.domain.tenancy import TenantId, tenant_context
from tests.support.app import AppClient

MEETINGS = "/api/v1/meetings"
NOON = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    """`hours` after NOON (a fixed day in the future)."""
    return NOON + timedelta(hours=hours)


def meeting_body(
    contact_id: str, starts_at: datetime, minutes: int = 30, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact_id": contact_id,
        "title": "Quarterly review",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(minutes=minutes)).isoformat(),
    }
    body.update(extra)
    return body


async def create_meeting(
    http: AppClient, headers: dict[str, str], contact_id: str, starts_at: datetime, **extra: Any
) -> dict[str, Any]:
    response = await http.post(
        MEETINGS, json=meeting_body(contact_id, starts_at, **extra), headers=headers
    )
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def reminder_rows(
    container: punq.Container, tenant_id: str, meeting_id: str
) -> list[Reminder]:
    with tenant_context(TenantId(tenant_id)):
        rows: list[Reminder] = await container.resolve(ReminderRepository).of_meeting(meeting_id)
    return rows
