"""Helpers for ticket tests: a contact with a conversation, a department, a ticket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import punq

from api.domain.business_hours import BusinessHours
from api.domain.departments import Department, DepartmentRepository, SlaTargets
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.app import AppClient
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import channel_of, from_customer, receive

TICKETS = "/api/v1/tickets"


async def customer(
    container: punq.Container, tenant: CreatedTenant, graph: FakeGraph, n: int = 1
) -> tuple[str, str, str]:
    """(contact id, conversation id, channel id) of a customer who wrote to `tenant`."""
    channel = await channel_of(container, tenant, graph, f"{n:012d}")
    message = await receive(container, from_customer(n, 0), channel)
    assert message.contact_id is not None and channel.id is not None
    return message.contact_id, message.conversation_id, channel.id


async def department(
    container: punq.Container,
    tenant: CreatedTenant,
    name: str = "Support",
    *,
    first_response: int | None = 60,
    resolution: int | None = 480,
    hours: BusinessHours | None = None,
    members: list[str] | None = None,
) -> str:
    now = datetime.now(UTC)
    with tenant_context(TenantId(tenant.tenant.id or "")):
        repo: DepartmentRepository = container.resolve(DepartmentRepository)
        stored = await repo.add(
            Department(
                name=name, member_ids=members or [], business_hours=hours,
                sla=SlaTargets(first_response_minutes=first_response,
                               resolution_minutes=resolution),
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
    assert stored.id is not None
    return stored.id


async def agent_message(
    container: punq.Container,
    tenant: CreatedTenant,
    conversation_id: str,
    channel_id: str,
    at: datetime,
    *,
    private: bool = False,
) -> None:
    """An agent's message on the conversation at `at` (as the send path stores it)."""
    with tenant_context(TenantId(tenant.tenant.id or "")):
        messages: MessageRepository = container.resolve(MessageRepository)
        await messages.add_once(
            Message(
                conversation_id=conversation_id, channel_id=channel_id,
                direction=Direction.OUTBOUND, type="text", text="On it", private=private,
                sender=MessageSender(type=SenderType.AGENT, id="u1"),
                status=MessageStatus.SENT, external_id=f"wamid.agent.{at.isoformat()}",
                created_at=at,
            )
        )  # fmt: skip


async def open_ticket(
    client: AppClient, headers: dict[str, str], contact_id: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        TICKETS, json={"contact_id": contact_id, "subject": "Printer on fire", **fields},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())
