"""Plans and limits over HTTP: platform admins manage plans and put tenants on them; each
limit's 402 `plan_limit_reached`; concurrent requests at the edge; the usage figures;
the month's rollover on a controlled clock; a flushed cache; one tenant's usage never
counting for another."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import punq
from redis.asyncio import Redis

from api.common.clock import utcnow
from api.domain.messaging.campaigns import RecipientStatus
from api.domain.messaging.channels import ChannelRepository
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.campaign_batches import SliceOutcome
from api.usecases.messaging.send_campaign_run import SendCampaignRun
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem
from tests.support.campaign_sending import rows_of, running_campaign, sends_to, set_tier
from tests.support.channels import CHANNELS, connect, connect_body
from tests.support.fake_graph import FakeGraph
from tests.support.fake_telegram import BOT_TOKEN, FakeTelegram, serve_fake_telegram
from tests.support.files import png_bytes, upload, uploaded
from tests.support.inbox import stored_channel
from tests.support.onboarding import admin_headers, login
from tests.support.people import (
    MEMBER_PASSWORD,
    USERS,
    add_user,
    audit_entries,
    bearer,
    two_tenants,
)
from tests.support.plans import PLANS, USAGE, acme_on_plan, make_plan, put_on_plan, usage
from tests.support.sending import MESSAGES, customer_wrote, use_clock

TEMPLATE = {"name": "order_update", "language": "en_US", "components": []}


def limit_of(response: Any, limit: str) -> None:
    body = assert_problem(response, 402, "plan_limit_reached")
    assert body["limit"] == limit, body


async def test_platform_admins_manage_plans_and_tenants_may_not(client: AppClient) -> None:
    admin = await admin_headers(client)
    acme, owner, _, _ = await two_tenants(client)
    plan = await make_plan(client, admin, "Starter", seats=3, messages_per_month=1000)
    assert plan["limits"] == {
        "seats": 3, "channels": None, "messages_per_month": 1000,
        "ai_tokens_per_day": None, "storage_bytes": None,
    }  # fmt: skip
    assert plan["is_default"] is False
    assert_problem(
        await client.post(PLANS, json={"name": "STARTER"}, headers=admin), 409, "conflict"
    )
    bad = await client.post(PLANS, json={"name": "X", "limits": {"seats": -1}}, headers=admin)
    assert_problem(bad, 422, "invalid_input")
    unknown = await client.post(PLANS, json={"name": "X", "limits": {"bogus": 1}}, headers=admin)
    assert_problem(unknown, 422, "invalid_input")
    pro = await make_plan(client, admin, "Pro")
    listed = (await client.get(PLANS, headers=admin)).json()
    assert [p["name"] for p in listed["items"]] == ["Pro", "Starter"]
    assert listed["total"] == 2
    changed = await client.put(
        f"{PLANS}/{plan['id']}", json={"limits": {"seats": 5}, "is_default": True}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["limits"]["seats"] == 5
    assert changed.json()["limits"]["messages_per_month"] is None  # the whole set
    assert (await client.get(f"{PLANS}/{plan['id']}", headers=admin)).json()["is_default"]

    # Tenant users: 403 with their tenant named (401 without: the token is the tenant's).
    assert_problem(await client.get(PLANS, headers=owner), 403, "forbidden")
    tenantless = {"Authorization": owner["Authorization"]}
    assert_problem(await client.get(PLANS, headers=tenantless), 401, "unauthorized")
    assert_problem(await client.post(PLANS, json={"name": "Mine"}), 401, "unauthorized")
    tenant_id = acme.tenant.id or ""
    own = await client.put(
        f"/api/v1/tenants/{tenant_id}/plan", json={"plan_id": pro["id"]}, headers=owner
    )
    assert_problem(own, 403, "forbidden")

    # Assigning: unknown plan or tenant 404; a plan in use cannot be deleted.
    missing = await client.put(
        f"/api/v1/tenants/{tenant_id}/plan", json={"plan_id": "0" * 24}, headers=admin
    )
    assert_problem(missing, 404, "not_found")
    await put_on_plan(client, admin, tenant_id, pro["id"])
    assert (await usage(client, owner))["plan"] == {"id": pro["id"], "name": "Pro"}
    assert_problem(await client.delete(f"{PLANS}/{pro['id']}", headers=admin), 409, "conflict")
    await put_on_plan(client, admin, tenant_id, None)  # back to the default (Starter)
    assert (await usage(client, owner))["plan"]["name"] == "Starter"
    assert (await client.delete(f"{PLANS}/{pro['id']}", headers=admin)).status_code == 204
    assert_problem(await client.get(f"{PLANS}/{pro['id']}", headers=admin), 404, "not_found")
    changes = await audit_entries(client, owner, action="tenant.plan_changed")
    assert len(changes) == 2


async def test_seats_limit_counts_active_users_of_one_tenant(client: AppClient) -> None:
    _, owner, _, beta_owner = await acme_on_plan(client, seats=2)
    first = await add_user(client, owner, "one@acme.example.com")  # the owner + 1: full
    second = await client.post(
        USERS,
        json={"email": "two@acme.example.com", "full_name": "Two", "password": "pw-long-enough-1"},
        headers=owner,
    )
    limit_of(second, "seats")
    figures = (await usage(client, owner))["usage"]
    assert figures["seats"] == {"used": 2, "limit": 2}
    assert figures["messages_this_month"] == {"used": 0, "limit": None}
    # Another tenant is unlimited, and acme's seats never count there.
    for n in range(3):
        await add_user(client, beta_owner, f"u{n}@beta.example.com")
    assert (await usage(client, beta_owner))["usage"]["seats"] == {"used": 4, "limit": None}
    # Deactivating frees a seat; activating takes one.
    off = await client.post(f"{USERS}/{first['id']}/deactivate", headers=owner)
    assert off.status_code == 200, off.text
    await add_user(client, owner, "three@acme.example.com")
    limit_of(await client.post(f"{USERS}/{first['id']}/activate", headers=owner), "seats")


async def test_twenty_concurrent_user_creations_at_the_edge_let_exactly_one_in(
    client: AppClient,
) -> None:
    admin = await admin_headers(client)
    acme, owner, _, _ = await two_tenants(client)
    plan = await make_plan(client, admin, seats=2)  # the owner holds one
    await put_on_plan(client, admin, acme.tenant.id or "", plan["id"])
    responses = await asyncio.gather(*(
        client.post(
            USERS, json={"email": f"u{n}@acme.example.com", "full_name": f"User {n}"},
            headers=owner,
        )
        for n in range(20)
    ))  # fmt: skip
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [402] * 19, [r.text for r in responses if r.status_code >= 500]
    assert (await usage(client, owner))["usage"]["seats"] == {"used": 2, "limit": 2}


async def test_messages_per_month_under_concurrency_flush_and_rollover(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, beta, beta_owner = await acme_on_plan(client, messages_per_month=4)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    conversation_id = (await customer_wrote(container, channel)).conversation_id
    body = {"conversation_id": conversation_id, "type": "template", "template": TEMPLATE}
    first = await client.post(MESSAGES, json=body, headers=owner)
    assert first.status_code == 202, first.text
    responses = await asyncio.gather(
        *(client.post(MESSAGES, json=body, headers=owner) for _ in range(12))
    )
    assert sorted(r.status_code for r in responses) == [202] * 3 + [402] * 9
    limit_of(next(r for r in responses if r.status_code == 402), "messages_per_month")
    assert (await usage(client, owner))["usage"]["messages_this_month"] == {"used": 4, "limit": 4}

    # The cache flushed: the month is counted again from the database, still full.
    await redis_client.flushdb()
    limit_of(await client.post(MESSAGES, json=body, headers=owner), "messages_per_month")

    # The other tenant sends freely: acme's messages are not its.
    beta_channel = await stored_channel(
        container, beta.tenant.id or "", graph.base_url, phone_number_id="222"
    )
    beta_conversation = (await customer_wrote(container, beta_channel)).conversation_id
    beta_body = {**body, "conversation_id": beta_conversation}
    assert (await client.post(MESSAGES, json=beta_body, headers=beta_owner)).status_code == 202

    # Next month (UTC), acme's counter starts again.
    now = utcnow()
    next_month = (now.replace(day=1) + timedelta(days=32)).replace(day=2)
    use_clock(container, FakeUtcClock(next_month))
    again = await client.post(MESSAGES, json=body, headers=owner)
    assert again.status_code == 202, again.text
    assert (await usage(client, owner))["usage"]["messages_this_month"]["used"] == 1


async def test_channels_limit(client: AppClient, graph: FakeGraph) -> None:
    _, owner, _, _ = await acme_on_plan(client, channels=1)
    await connect(client, owner, graph.base_url)
    graph.numbers["999"] = {"display_phone_number": "+1 555-010-0999", "verified_name": "B"}
    second = await client.post(
        f"{CHANNELS}/whatsapp",
        json=connect_body(graph.base_url, phone_number_id="999"),
        headers=owner,
    )
    limit_of(second, "channels")
    assert (await usage(client, owner))["usage"]["channels"] == {"used": 1, "limit": 1}
    # Every provider counts: a Telegram bot is refused before anything is registered.
    telegram = FakeTelegram()
    async with serve_fake_telegram(telegram):
        bot = await client.post(
            f"{CHANNELS}/telegram",
            json={"name": "Bot", "bot_token": BOT_TOKEN, "api_base_url": telegram.base_url},
            headers=owner,
        )
    limit_of(bot, "channels")
    assert telegram.webhooks == {}


async def test_storage_limit_and_freeing_it(client: AppClient) -> None:
    _, owner, _, beta_owner = await acme_on_plan(client, storage_bytes=5000)
    file = await uploaded(client, owner, png_bytes(3000))
    limit_of(await upload(client, owner, png_bytes(3000)), "storage_bytes")
    figures = (await usage(client, owner))["usage"]["storage_bytes"]
    assert figures == {"used": file["size"], "limit": 5000}
    await uploaded(client, beta_owner, png_bytes(6000))  # beta: unlimited, its own
    deleted = await client.delete(f"/api/v1/files/{file['id']}", headers=owner)
    assert deleted.status_code == 204, deleted.text
    await uploaded(client, owner, png_bytes(3000))


async def test_the_default_plan_applies_to_tenants_without_one(client: AppClient) -> None:
    admin = await admin_headers(client)
    _, owner, _, beta_owner = await two_tenants(client)
    response = await client.post(
        PLANS, json={"name": "Free", "limits": {"seats": 1}, "is_default": True}, headers=admin
    )
    assert response.status_code == 201, response.text
    for headers in (owner, beta_owner):
        body = await usage(client, headers)
        assert body["plan"]["name"] == "Free"
        new = {"email": "x@example.com", "full_name": "X", "password": "pw-long-enough-1"}
        limit_of(await client.post(USERS, json=new, headers=headers), "seats")


async def test_usage_needs_tenant_read(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    member = await add_user(client, owner, "m@acme.example.com")
    tokens = await login(client, member["email"], MEMBER_PASSWORD, acme.tenant.id or "")
    assert_problem(
        await client.get(USAGE, headers=bearer(acme.tenant.id or "", tokens)), 403, "forbidden"
    )
    assert_problem(
        await client.get(USAGE, headers={"X-Tenant-ID": acme.tenant.id or ""}), 401, "unauthorized"
    )
    body = await usage(client, owner)
    assert body["plan"] == {"id": None, "name": "Unlimited"}


async def test_a_campaign_sends_what_the_month_has_left_and_fails_the_rest_clearly(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, _, _ = await acme_on_plan(client, messages_per_month=5)
    connected = await connect(client, owner, graph.base_url)
    with tenant_context(TenantId(acme.tenant.id or "")):
        channel = await container.resolve(ChannelRepository).get(connected["id"])
    assert channel is not None
    channel = await set_tier(container, channel, 1000)
    arranged = await running_campaign(container, channel, 8, rate=1000)
    with arranged.scope():
        outcome = await container.resolve(SendCampaignRun).execute(arranged.run_id)
    assert outcome is SliceOutcome.FINISHED
    assert sum(sends_to(graph).values()) == 5  # never past the plan
    rows = await rows_of(container, arranged)
    assert sorted(r.status.value for r in rows) == ["failed"] * 3 + ["sent"] * 5
    refused = [r for r in rows if r.status is RecipientStatus.FAILED]
    assert {r.error_code for r in refused} == {"plan_limit_reached"}
    assert all("messages_per_month" in (r.error_title or "") for r in refused)
    assert (await usage(client, owner))["usage"]["messages_this_month"] == {"used": 5, "limit": 5}
    await redis_client.flushdb()  # counted again from the database: the campaign's sends
    assert (await usage(client, owner))["usage"]["messages_this_month"]["used"] == 5
    inbound = await customer_wrote(container, channel)
    body = {"conversation_id": inbound.conversation_id, "type": "template", "template": TEMPLATE}
    limit_of(await client.post(MESSAGES, json=body, headers=owner), "messages_per_month")
