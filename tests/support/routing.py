"""Helpers for the assignment and business-hours tests: the app on a clock the test moves,
inbox settings and presence over HTTP, customers writing in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import punq

from api.domain.messaging.channels import Channel
from api.domain.messaging.events import MessageReceived, Sender
from api.domain.messaging.messages import Message
from api.usecases.messaging.receive_inbound_message import ReceiveInboundMessage
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient
from tests.support.inbox import message_event

SETTINGS = "/api/v1/inbox/settings"
PRESENCE = "/api/v1/inbox/presence"
CONVERSATIONS = "/api/v1/conversations"


def customer(clock: FakeUtcClock, n: int, seq: int = 0) -> MessageReceived:
    """Customer `n`'s message number `seq`, written a minute ago."""
    return message_event("text").model_copy(
        update={
            "external_id": f"wamid.route.{n}.{seq}",
            "key": f"message:route.{n}.{seq}",
            "timestamp": clock.now() - timedelta(minutes=1),
            "sender": Sender(user_id=f"US.{n:020d}", phone=f"1650777{n:04d}", name=f"C{n}"),
        }
    )


async def writes(container: punq.Container, channel: Channel, event: MessageReceived) -> Message:
    message = await container.resolve(ReceiveInboundMessage).execute(event, channel)
    assert message is not None
    return message


async def put_settings(client: AppClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.put(SETTINGS, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


async def set_presence(client: AppClient, headers: dict[str, str], status: str) -> dict[str, Any]:
    response = await client.put(PRESENCE, json={"status": status}, headers=headers)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


async def assignee_of(client: AppClient, headers: dict[str, str], conversation_id: str) -> Any:
    response = await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["assignee_id"]
