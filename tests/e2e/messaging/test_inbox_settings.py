"""Inbox settings and agents' presence over HTTP: defaults, replacement and its audit,
validation codes, `inbox:read` to read and `inbox:manage` to change (owners and admins,
not agents), presence that lapses without a refresh (a clock the test moves), kept by a live socket,
its event, and tenant isolation of both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import punq
from redis.asyncio import Redis

from api.config import Settings
from api.domain.identity.auth import Principal
from api.domain.messaging.realtime import InboxEventType
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.presence import RefreshPresence
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem, use_clock
from tests.support.people import audit_entries, signed_in, two_tenants
from tests.support.realtime import published
from tests.support.routing import PRESENCE, SETTINGS, put_settings, set_presence
from tests.support.sockets import (
    live_server,
    of_type,
    signed_in_socket,
    socket_to,
    token_of,
    with_realtime,
)

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
DEFAULTS = {
    "auto_assign": "off", "agent_capacity": 10, "business_hours": None,
    "out_of_hours_message": None, "updated_at": None,
}  # fmt: skip
HOURS = {
    "timezone": "Europe/Berlin",
    "days": {"mon": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
             "fri": [{"start": "22:00", "end": "02:00"}]},
    "holidays": ["2026-12-25", "2026-12-24", "2026-12-25"],
}  # fmt: skip


async def test_settings_default_then_replaced_and_audited(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    first = await client.get(SETTINGS, headers=agent)
    assert first.status_code == 200 and first.json() == DEFAULTS
    saved = await put_settings(
        client, owner, auto_assign="round_robin", agent_capacity=3, business_hours=HOURS,
        out_of_hours_message="We are closed; we answer from 9:00.",
    )  # fmt: skip
    assert saved["auto_assign"] == "round_robin" and saved["agent_capacity"] == 3
    assert saved["business_hours"]["holidays"] == ["2026-12-24", "2026-12-25"]  # deduplicated
    assert saved["business_hours"]["days"]["fri"] == [{"start": "22:00", "end": "02:00"}]
    assert saved["updated_at"] is not None
    assert (await client.get(SETTINGS, headers=agent)).json() == saved
    entry = (await audit_entries(client, owner, action="inbox_settings.updated"))[0]
    assert entry["changes"]["auto_assign"] == {"from": "off", "to": "round_robin"}
    assert entry["changes"]["agent_capacity"] == {"from": 10, "to": 3}
    cleared = await put_settings(client, owner)  # a field left out takes its default
    assert {k: v for k, v in cleared.items() if k != "updated_at"} == {
        k: v for k, v in DEFAULTS.items() if k != "updated_at"
    }


async def test_settings_need_inbox_read_and_inbox_manage(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    _, admin = await signed_in(client, acme, owner, "ida@acme.example.com", roles=["admin"])
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    body = {"auto_assign": "least_busy"}
    for url in (SETTINGS, PRESENCE):
        assert_problem(await client.get(url, headers=tenant_only), 401, "unauthorized")
        assert_problem(await client.get(url, headers=member), 403, "forbidden")
    assert_problem(await client.put(SETTINGS, json=body, headers=tenant_only), 401, "unauthorized")
    assert_problem(await client.put(SETTINGS, json=body, headers=member), 403, "forbidden")
    assert_problem(await client.put(SETTINGS, json=body, headers=agent), 403, "forbidden")
    status = {"status": "online"}
    assert_problem(
        await client.put(PRESENCE, json=status, headers=tenant_only), 401, "unauthorized"
    )
    assert_problem(await client.put(PRESENCE, json=status, headers=member), 403, "forbidden")
    assert (await client.put(SETTINGS, json=body, headers=admin)).status_code == 200
    assert (await client.get(SETTINGS, headers=agent)).json()["auto_assign"] == "least_busy"


def with_hours(**changes: Any) -> dict[str, Any]:
    return {"business_hours": {**HOURS, **changes}}


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    (with_hours(timezone="Mars/Olympus"), "invalid_timezone"),
    (with_hours(days={"mon": [{"start": "9am", "end": "17:00"}]}), "invalid_time_span"),
    (with_hours(days={"mon": [{"start": "09:00", "end": "09:00"}]}), "invalid_time_span"),
    (with_hours(days={"tue": [{"start": "09:00", "end": "17:00"},
                              {"start": "16:30", "end": "18:00"}]}), "overlapping_time_spans"),
    (with_hours(days={"sun": [{"start": "23:00", "end": "03:00"}],
                      "mon": [{"start": "02:00", "end": "04:00"}]}), "overlapping_time_spans"),
    (with_hours(days={"someday": []}), "invalid_input"),
    (with_hours(holidays=["2026-13-01"]), "invalid_input"),
    ({"auto_assign": "random"}, "invalid_input"),
    ({"agent_capacity": 0}, "invalid_input"),
    ({"out_of_hours_message": ""}, "invalid_input"),
    ({"surprise": True}, "invalid_input"),
]  # fmt: skip


async def test_bad_settings_are_422_with_a_clear_code(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    for body, code in BAD_SETTINGS:
        response = await client.put(SETTINGS, json=body, headers=owner)
        assert_problem(response, 422, code)
    assert (await client.get(SETTINGS, headers=owner)).json() == DEFAULTS


async def test_presence_is_set_listed_lapses_and_is_published(
    client: AppClient, container: punq.Container, redis_client: Redis
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    ada, agent = await signed_in(
        client, acme, owner, "ada@acme.example.com", roles=["agent"], full_name="Ada"
    )
    member, _ = await signed_in(client, acme, owner, "max@acme.example.com")
    mine = await set_presence(client, agent, "online")
    assert mine == {
        "user_id": ada["id"], "status": "online", "since": "2026-05-04T10:00:00Z",
        "expires_at": "2026-05-04T10:01:30Z",  # INBOX_PRESENCE_TTL_SECONDS: 90 by default
    }  # fmt: skip
    listed = (await client.get(PRESENCE, headers=owner)).json()["items"]
    by_id = {a["user_id"]: a for a in listed}
    assert member["id"] not in by_id  # a member is no agent
    assert by_id[ada["id"]] == {**mine, "full_name": "Ada", "email": "ada@acme.example.com",
                                "open_assigned": 0}  # fmt: skip
    assert by_id[acme.owner.id or ""]["status"] == "offline"  # an owner may take conversations
    events = [e for e in await published(redis_client, acme.tenant.id) if e.type is
              InboxEventType.PRESENCE_UPDATED]  # fmt: skip
    assert [e.data["status"] for e in events] == ["online"]
    assert events[0].conversation_id is None and events[0].data["user_id"] == ada["id"]

    clock.advance(seconds=80)  # the socket refreshes it
    principal = _principal(acme.tenant.id, ada["id"])
    refresh = container.resolve(RefreshPresence)
    with tenant_context(TenantId(acme.tenant.id or "")):
        assert await refresh.execute(principal)
    clock.advance(seconds=80)
    assert await _status(client, owner, ada["id"]) == "online"
    clock.advance(seconds=11)  # 91 s since the refresh: lapsed
    assert await _status(client, owner, ada["id"]) == "offline"
    with tenant_context(TenantId(acme.tenant.id or "")):
        assert not await refresh.execute(principal)  # nothing left to extend
    await set_presence(client, agent, "away")
    assert await _status(client, owner, ada["id"]) == "away"
    gone = await set_presence(client, agent, "offline")
    assert gone["expires_at"] is None
    assert await _status(client, owner, ada["id"]) == "offline"
    bad = await client.put(PRESENCE, json={"status": "busy"}, headers=agent)
    assert_problem(bad, 422, "invalid_input")


async def test_another_tenants_settings_and_presence_are_invisible(
    client: AppClient, redis_client: Redis
) -> None:
    acme, acme_owner, beta, beta_owner = await two_tenants(client)
    await put_settings(client, acme_owner, auto_assign="round_robin", agent_capacity=2)
    await set_presence(client, acme_owner, "online")
    assert (await client.get(SETTINGS, headers=beta_owner)).json() == DEFAULTS
    beta_list = (await client.get(PRESENCE, headers=beta_owner)).json()["items"]
    assert [a["user_id"] for a in beta_list] == [beta.owner.id]
    assert beta_list[0]["status"] == "offline"
    assert await published(redis_client, beta.tenant.id) == []
    acme_list = (await client.get(PRESENCE, headers=acme_owner)).json()["items"]
    assert [(a["user_id"], a["status"]) for a in acme_list] == [(acme.owner.id, "online")]
    crossed = {**acme_owner, "X-Tenant-ID": beta.tenant.id or ""}  # acme's token, beta's id
    assert (await client.get(SETTINGS, headers=crossed)).status_code in (401, 403)


async def _status(client: AppClient, headers: dict[str, str], user_id: str) -> str:
    items = (await client.get(PRESENCE, headers=headers)).json()["items"]
    return str(next(a["status"] for a in items if a["user_id"] == user_id))


def _principal(tenant_id: str | None, user_id: str) -> Principal:
    """The agent as their socket knows them (the refresh reads only who they are)."""
    return Principal(
        user_id=user_id, tenant_id=tenant_id, session_id="s1", token_id="t1",
        permissions=frozenset({"inbox:read"}), issued_at=T0, expires_at=T0 + timedelta(hours=1),
    )  # fmt: skip


async def test_a_live_socket_keeps_its_agents_presence(settings: Settings) -> None:
    clock = FakeUtcClock()
    async with live_server(with_realtime(settings, heartbeat_seconds=0.05)) as server:
        use_clock(server.local.container, clock)
        acme, owner, _, _ = await two_tenants(server.local)
        owner_id = acme.owner.id or ""
        await set_presence(server.local, owner, "online")  # until 10:01:30
        clock.advance(seconds=80)
        async with socket_to(server, token_of(owner)) as ws:
            await signed_in_socket(ws)
            await of_type(ws, "heartbeat")
            await of_type(ws, "heartbeat")  # the first heartbeat's refresh is done
        clock.advance(seconds=80)  # 160 s after it was set: the socket refreshed it
        assert await _status(server.local, owner, owner_id) == "online"
        clock.advance(seconds=11)  # 91 s after the socket's last refresh
        assert await _status(server.local, owner, owner_id) == "offline"
