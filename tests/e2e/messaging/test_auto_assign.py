"""Auto-assignment of conversations as customers open them: round robin in turn, least
busy, capacity, only online agents, `off`, nothing across tenants, safe when many open
at once; each assignment published (`conversation.updated`) and audited with no actor."""

from __future__ import annotations

import asyncio
from typing import Any

import punq
from redis.asyncio import Redis

from api.domain.messaging.channels import Channel
from api.domain.messaging.realtime import InboxEventType
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, use_clock
from tests.support.inbox import stored_channel
from tests.support.people import audit_entries, signed_in, two_tenants
from tests.support.realtime import published
from tests.support.routing import (
    PRESENCE,
    assignee_of,
    customer,
    put_settings,
    set_presence,
    writes,
)

NO_GRAPH = "http://127.0.0.1:9"  # nothing here calls the provider


async def agents(
    client: AppClient, tenant: CreatedTenant, owner: dict[str, str], *names: str
) -> list[tuple[str, dict[str, str]]]:
    """(id, headers) of new agents, sorted by id (the round-robin order)."""
    domain = tenant.tenant.subdomain
    made = [
        await signed_in(client, tenant, owner, f"{n}@{domain}.example.com", roles=["agent"])
        for n in names
    ]
    return sorted(((user["id"], headers) for user, headers in made), key=lambda a: a[0])


async def channel(container: punq.Container, tenant: CreatedTenant, number: str) -> Channel:
    return await stored_channel(container, tenant.tenant.id or "", NO_GRAPH, phone_number_id=number)


async def open_conversations(
    container: punq.Container, where: Channel, clock: FakeUtcClock, customers: range
) -> list[str]:
    return [(await writes(container, where, customer(clock, n))).conversation_id for n in customers]


async def assignees(client: AppClient, owner: dict[str, str], ids: list[str]) -> list[Any]:
    return [await assignee_of(client, owner, c) for c in ids]


async def test_round_robin_in_turn_to_online_agents_under_capacity(
    client: AppClient, container: punq.Container, redis_client: Redis
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    (ada, ada_h), (bob, bob_h), (cyd, cyd_h) = await agents(client, acme, owner, "a", "b", "c")
    await put_settings(client, owner, auto_assign="round_robin", agent_capacity=2)
    await set_presence(client, ada_h, "online")
    await set_presence(client, bob_h, "online")
    await set_presence(client, cyd_h, "away")  # away: not given conversations
    where = await channel(container, acme, "111000111000")

    opened = await open_conversations(container, where, clock, range(5))
    assert await assignees(client, owner, opened) == [ada, bob, ada, bob, None]
    await writes(container, where, customer(clock, 0, seq=1))  # joins: nothing changes
    assert await assignee_of(client, owner, opened[0]) == ada

    loads = {a["user_id"]: a["open_assigned"] for a in
             (await client.get(PRESENCE, headers=owner)).json()["items"]}  # fmt: skip
    assert (loads[ada], loads[bob], loads[cyd]) == (2, 2, 0)
    events = await published(redis_client, acme.tenant.id)
    updates = [e for e in events if e.type is InboxEventType.CONVERSATION_UPDATED]
    assigned = [
        (e.conversation_id, e.data["assignee_id"]) for e in updates if e.data["assignee_id"]
    ]
    # the four assignments, then customer 0's second message joining ada's conversation
    assert assigned == [*zip(opened[:4], [ada, bob, ada, bob], strict=True), (opened[0], ada)]
    audited = await audit_entries(client, owner, action="conversation.assigned")
    assert len(audited) == 4 and {e["actor_id"] for e in audited} == {None}
    assert audited[0]["changes"] == {"assignee_id": bob, "by": "auto_assign", "rule": "round_robin"}
    assert audited[0]["resource_id"] == opened[3]

    await set_presence(client, cyd_h, "online")
    clock.advance(seconds=91)  # ada's and bob's presence lapse; cyd's too
    await set_presence(client, cyd_h, "online")  # cyd refreshes hers
    assert await open_conversations(container, where, clock, range(5, 7)) != []
    latest = await assignees(client, owner, await _last_two(client, owner))
    assert latest == [cyd, cyd]


async def _last_two(client: AppClient, owner: dict[str, str]) -> list[str]:
    items = (await client.get("/api/v1/conversations", headers=owner)).json()["items"]
    return [c["id"] for c in items[:2]]


async def test_least_busy_fills_the_emptiest_agent_first(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    (ada, ada_h), (bob, bob_h) = await agents(client, acme, owner, "a", "b")
    await put_settings(client, owner, auto_assign="least_busy", agent_capacity=3)
    where = await channel(container, acme, "111000111000")
    await set_presence(client, ada_h, "online")
    first = await open_conversations(container, where, clock, range(2))
    await set_presence(client, bob_h, "online")
    then = await open_conversations(container, where, clock, range(2, 7))
    expected = [ada, ada, bob, bob, ada, bob, None]  # ties go in turn; 3 each at most
    assert await assignees(client, owner, first + then) == expected


async def test_off_or_nobody_online_leaves_it_unassigned(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    [(_, ada_h)] = await agents(client, acme, owner, "a")
    where = await channel(container, acme, "111000111000")
    await set_presence(client, ada_h, "online")
    off = await open_conversations(container, where, clock, range(1))  # default: off
    await put_settings(client, owner, auto_assign="round_robin")
    await set_presence(client, ada_h, "offline")
    nobody = await open_conversations(container, where, clock, range(1, 2))
    assert await assignees(client, owner, off + nobody) == [None, None]


async def test_agents_of_another_tenant_are_never_assigned(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, acme_owner, beta, beta_owner = await two_tenants(client)
    [(beta_agent, beta_h)] = await agents(client, beta, beta_owner, "b")
    for owner in (acme_owner, beta_owner):
        await put_settings(client, owner, auto_assign="round_robin")
    await set_presence(client, beta_h, "online")
    acme_opened = await open_conversations(
        container, await channel(container, acme, "111000111000"), clock, range(3)
    )
    beta_opened = await open_conversations(
        container, await channel(container, beta, "222000222000"), clock, range(1)
    )
    assert await assignees(client, acme_owner, acme_opened) == [None, None, None]
    assert await assignees(client, beta_owner, beta_opened) == [beta_agent]


async def test_conversations_opening_at_once_respect_capacity(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    team = await agents(client, acme, owner, "a", "b")
    await put_settings(client, owner, auto_assign="least_busy", agent_capacity=2)
    for _, headers in team:
        await set_presence(client, headers, "online")
    where = await channel(container, acme, "111000111000")
    messages = await asyncio.gather(
        *(writes(container, where, customer(clock, n)) for n in range(8))
    )
    found = await assignees(client, owner, [m.conversation_id for m in messages])
    assert sorted(a for a in found if a) == sorted([team[0][0]] * 2 + [team[1][0]] * 2)
    assert found.count(None) == 4
