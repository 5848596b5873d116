"""A known dataset for the dashboard tests, put straight into the collections: acme's
messages, conversations and campaign recipients around the window 2026-05-01 to
2026-05-04 in São Paulo (UTC-3), and beta's, which acme must never count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from api.infrastructure.persistence.base.mongo import MongoClient

ADA, BOB = "agent-ada", "agent-bob"
ZONE = "America/Sao_Paulo"
# [2026-05-01 00:00, 2026-05-04 00:00) in São Paulo: 03:00 UTC to 03:00 UTC.
SINCE, UNTIL = "2026-05-01T00:00:00", "2026-05-04T00:00:00"
FRIDAY = ObjectId()


def utc(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 5) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def message(
    tenant: str, at: datetime, direction: str, status: str, sender: str = "contact",
    sender_id: str | None = None, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    who: dict[str, Any] = {"type": sender} | ({"id": sender_id} if sender_id else {})
    return {"tenant_id": tenant, "conversation_id": "c", "channel_id": "ch", "type": "text",
            "direction": direction, "status": status, "sender": who, "created_at": at,
            **extra}  # fmt: skip


def conversation(tenant: str, created: datetime, **fields: Any) -> dict[str, Any]:
    return {"tenant_id": tenant, "channel_id": "ch", "channel_type": "whatsapp",
            "contact": {"id": str(ObjectId())}, "status": "open", "created_at": created,
            "updated_at": created, **fields}  # fmt: skip


def resolved(at: datetime, by: str) -> dict[str, Any]:
    return {"status": "resolved", "resolved_at": at, "resolved_by": by, "assignee_id": by}


def responded(first_inbound: datetime, response: datetime) -> dict[str, Any]:
    return {"first_inbound_at": first_inbound, "first_response_at": response}


async def seed(mongo: MongoClient, db_name: str, acme: str, beta: str) -> None:
    db = mongo[db_name]
    await db["inbox_messages"].insert_many([
        message(acme, utc(1, 2, 30), "inbound", "received"),  # 04-30 23:30 local: before
        message(acme, utc(1, 3), "inbound", "received"),  # 05-01 00:00 local: the first instant
        message(acme, utc(1, 12), "outbound", "sent", "agent", ADA),
        message(acme, utc(2, 2, 59), "outbound", "delivered", "agent", ADA),  # 05-01 23:59 local
        message(acme, utc(2, 15), "outbound", "read", "agent", BOB),
        message(acme, utc(3, 10), "outbound", "failed", "campaign"),
        message(acme, utc(2, 10), "outbound", "received", "agent", ADA, private=True),  # a note
        message(acme, utc(4, 3), "inbound", "received"),  # 05-04 00:00 local: the end, excluded
        message(beta, utc(2, 10), "inbound", "received"),
        message(beta, utc(2, 11), "outbound", "sent", "agent", ADA),
    ])  # fmt: skip
    await db["conversations"].insert_many([
        # first response 90 s, resolved by Ada after 2 h
        conversation(acme, utc(1, 4), **responded(utc(1, 4), utc(1, 4, 1, 30)),
                     **resolved(utc(1, 6), ADA)),
        # first response 600 s, resolved by Bob 05-01 23:30 local after 16.5 h
        conversation(acme, utc(1, 10), **responded(utc(1, 10), utc(1, 10, 10)),
                     **resolved(utc(2, 2, 30), BOB)),
        # first response 30 s, open, Ada's
        conversation(acme, utc(2, 12), **responded(utc(2, 12), utc(2, 12, 0, 30)),
                     assignee_id=ADA, active_key="k3"),
        # not answered yet, pending, Ada's
        conversation(acme, utc(3, 9), first_inbound_at=utc(3, 9), status="pending",
                     assignee_id=ADA, active_key="k4"),
        # opened before the window; answered and resolved (by Bob) in it
        conversation(acme, utc(20, 0, month=4), **responded(utc(20, 0, month=4), utc(2, 20)),
                     **resolved(utc(3, 12), BOB)),
        # opened by an agent's template: no customer message, so no response time
        conversation(acme, utc(2, 8), first_reply_at=utc(2, 8), active_key="k6"),
        # all before the window; and one opened at its end
        conversation(acme, utc(10, 0, month=4), **resolved(utc(11, 0, month=4), ADA)),
        conversation(acme, utc(4, 3), first_inbound_at=utc(4, 3), active_key="k9"),
        # beta's, in the window
        conversation(beta, utc(2, 1), **responded(utc(2, 1), utc(2, 2)),
                     **resolved(utc(2, 5), ADA)),
        conversation(beta, utc(2, 1), assignee_id=ADA, active_key="k10"),
    ])  # fmt: skip
    await db["campaign_recipients"].insert_many([
        {"tenant_id": tenant, "campaign_id": str(FRIDAY), "run_id": "r1", "status": status,
         "contact_id": str(ObjectId()), "updated_at": utc(2, 12)}
        for tenant, status in [(acme, "delivered"), (acme, "read"), (acme, "failed"),
                               (beta, "read")]
    ])  # fmt: skip
    await db["campaigns"].insert_one({"_id": FRIDAY, "tenant_id": acme, "name": "Black Friday"})
