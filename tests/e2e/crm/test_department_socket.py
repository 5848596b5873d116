"""The agents' socket for a `departments_only` user, over real TCP: inbox events of
conversations outside their departments never reach them (live or replayed), those of
their departments do, and an unlimited agent's socket gets everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.config import Settings
from tests.e2e.crm.test_department_routing import department, limited_agent, route
from tests.fakes.clock import FakeUtcClock
from tests.support.inbox import stored_channel
from tests.support.people import signed_in, two_tenants
from tests.support.routing import customer, writes
from tests.support.sockets import (
    LiveServer,
    frame_where,
    live_server,
    send,
    signed_in_socket,
    socket_to,
    subscribed,
    token_of,
    with_realtime,
)

NO_GRAPH = "http://127.0.0.1:9"


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with live_server(with_realtime(settings)) as live:
        yield live


def is_event(frame: dict[str, Any]) -> bool:
    return "cursor" in frame and "data" in frame


def conversation_of(frame: dict[str, Any]) -> str:
    data = frame["data"]
    return str(data["id"] if frame["type"].startswith("conversation.") else data["conversation_id"])


async def test_a_limited_socket_gets_only_its_departments_events(server: LiveServer) -> None:
    clock = FakeUtcClock()
    local = server.local
    acme, owner, _, _ = await two_tenants(local)
    ada_id, ada = await limited_agent(local, acme, owner, "ada@acme.example.com")
    _, agent = await signed_in(local, acme, owner, "bob@acme.example.com", roles=["agent"])
    where = await stored_channel(
        local.container, acme.tenant.id or "", NO_GRAPH, phone_number_id="1"
    )
    mine = (await writes(local.container, where, customer(clock, 1))).conversation_id
    other = (await writes(local.container, where, customer(clock, 2))).conversation_id
    sales = await department(local, owner, "Sales", [ada_id])
    support = await department(local, owner, "Support")
    assert (await route(local, owner, mine, sales)).status_code == 200
    assert (await route(local, owner, other, support)).status_code == 200

    async with (
        socket_to(server, token_of(ada)) as limited,
        socket_to(server, token_of(agent)) as everyone,
    ):
        ready = await signed_in_socket(limited)
        await signed_in_socket(everyone)
        await subscribed(limited)
        await subscribed(everyone)
        # A conversation topic outside their departments is refused like another tenant's.
        await send(limited, type="subscribe", topic="conversation", id=other)
        refused, _ = await frame_where(limited, lambda f: f["type"] == "error")
        assert refused["code"] == "not_found"

        # Support's customer writes first, then Sales' (events are delivered in order).
        await writes(local.container, where, customer(clock, 2, seq=1))
        await writes(local.container, where, customer(clock, 1, seq=1))
        # A new, unrouted conversation: nobody limited sees it either.
        fresh = (await writes(local.container, where, customer(clock, 3))).conversation_id
        assert (await route(local, owner, fresh, sales)).status_code == 200

        seen_all: list[dict[str, Any]] = []
        while not any(
            f["type"] == "conversation.updated" and conversation_of(f) == fresh for f in seen_all
        ):
            frame, _ = await frame_where(everyone, is_event)
            seen_all.append(frame)
        assert {conversation_of(f) for f in seen_all} == {mine, other, fresh}

        seen: list[dict[str, Any]] = []
        while not any(
            f["type"] == "conversation.updated" and conversation_of(f) == fresh for f in seen
        ):
            frame, _ = await frame_where(limited, is_event)
            seen.append(frame)
    assert ready["user_id"] == ada_id
    assert other not in {conversation_of(f) for f in seen}
    assert {conversation_of(f) for f in seen} == {mine, fresh}
    assert any(f["type"] == "message.created" and conversation_of(f) == mine for f in seen)
    # The unrouted conversation's opening events were held back until it was routed.
    assert not any(f["type"] == "conversation.created" for f in seen)

    # Replayed after a cursor: the same filter.
    first_cursor = seen_all[0]["cursor"]
    async with socket_to(server, token_of(ada)) as again:
        await signed_in_socket(again)
        await subscribed(again)
        await send(again, type="resume", cursor=first_cursor)
        resumed, replayed = await frame_where(again, lambda f: f["type"] == "resumed")
    events = [f for f in replayed if is_event(f)]
    assert resumed["replayed"] == len(events) > 0
    assert other not in {conversation_of(f) for f in events}
