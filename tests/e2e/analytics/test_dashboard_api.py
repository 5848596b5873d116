"""`GET /api/v1/analytics/dashboard`: exact figures on a known dataset, local days in the
tenant's time zone (São Paulo), the default window by the app's clock, the cache (and the
setting that turns it off), `analytics:read`, tenant isolation and bad windows."""

from __future__ import annotations

from typing import Any

import punq
from redis.asyncio import Redis

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.fakes.clock import FakeUtcClock
from tests.support.analytics import ADA, BOB, FRIDAY, SINCE, UNTIL, ZONE, message, seed, utc
from tests.support.app import AppClient, assert_problem, serve, use_clock
from tests.support.people import signed_in, two_tenants
from tests.support.settings import make_settings

DASHBOARD = "/api/v1/analytics/dashboard"
PROFILE = "/api/v1/tenant/profile"
WINDOW = {"since": SINCE, "until": UNTIL}


def counts(total: int, **by_status: int) -> dict[str, Any]:
    return {"total": total, "by_status": by_status}


async def seeded(client: AppClient, mongo: MongoClient, db_name: str) -> tuple[Any, ...]:
    acme, owner, beta, beta_owner = await two_tenants(client)
    saved = await client.put(PROFILE, json={"timezone": ZONE}, headers=owner)
    assert saved.status_code == 200, saved.text
    await seed(mongo, db_name, acme.tenant.id or "", beta.tenant.id or "")
    return acme, owner, beta, beta_owner


async def dashboard(client: AppClient, headers: dict[str, str], **params: str) -> Any:
    response = await client.get(DASHBOARD, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_figures_of_a_known_window_in_the_tenants_days(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    _, owner, _, _ = await seeded(client, mongo_client, db_name)
    found = await dashboard(client, owner, **WINDOW)
    assert (found["since"], found["until"], found["timezone"]) == (
        "2026-05-01T03:00:00Z", "2026-05-04T03:00:00Z", ZONE,
    )  # fmt: skip
    assert found["cached"] is False
    assert found["messages"] == {
        "inbound": counts(1, received=1),
        "outbound": counts(4, delivered=1, failed=1, read=1, sent=1),
        "by_day": [
            {"day": "2026-05-01", "inbound": counts(1, received=1),
             "outbound": counts(2, delivered=1, sent=1)},  # 02:59 UTC on the 2nd is the 1st
            {"day": "2026-05-02", "inbound": counts(0), "outbound": counts(1, read=1)},
            {"day": "2026-05-03", "inbound": counts(0), "outbound": counts(1, failed=1)},
        ],
    }  # fmt: skip
    assert found["conversations"] == {
        "opened": 5, "resolved": 3,
        "by_day": [
            {"day": "2026-05-01", "opened": 2, "resolved": 2},
            {"day": "2026-05-02", "opened": 2, "resolved": 0},
            {"day": "2026-05-03", "opened": 1, "resolved": 1},
        ],
        # 30, 90, 600 s and 12 days 20 h; nearest rank: the 2nd and the 4th
        "first_response": {"count": 4, "median_seconds": 90, "p90_seconds": 1_108_800},
        # 2 h, 16.5 h, 13.5 days: the 2nd and the 3rd
        "resolution": {"count": 3, "median_seconds": 59_400, "p90_seconds": 1_166_400},
    }  # fmt: skip
    assert found["agents"] == [
        {"agent_id": ADA, "open_assigned": 2, "resolved": 1, "messages_sent": 2},
        {"agent_id": BOB, "open_assigned": 0, "resolved": 2, "messages_sent": 1},
    ]  # fmt: skip
    assert found["campaigns"] == [
        {"campaign_id": str(FRIDAY), "name": "Black Friday", "recipients": 3, "sent": 2,
         "delivered": 2, "read": 1, "failed": 1, "delivery_rate": 1.0, "read_rate": 0.5},
    ]  # fmt: skip


async def test_another_tenant_sees_only_its_own(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    _, _, _, beta_owner = await seeded(client, mongo_client, db_name)
    found = await dashboard(client, beta_owner, since="2026-05-01T00:00:00Z",
                            until="2026-05-04T00:00:00+00:00")  # fmt: skip
    assert found["timezone"] == "UTC"
    assert [d["day"] for d in found["messages"]["by_day"]] == [
        "2026-05-01", "2026-05-02", "2026-05-03",
    ]  # fmt: skip
    assert found["messages"]["inbound"] == counts(1, received=1)
    assert found["messages"]["outbound"] == counts(1, sent=1)
    conversations = found["conversations"]
    assert (conversations["opened"], conversations["resolved"]) == (2, 1)
    assert conversations["first_response"] == {
        "count": 1, "median_seconds": 3600, "p90_seconds": 3600,
    }  # fmt: skip
    assert conversations["resolution"]["median_seconds"] == 4 * 3600
    assert found["agents"] == [
        {"agent_id": ADA, "open_assigned": 1, "resolved": 1, "messages_sent": 1}
    ]
    assert [(c["recipients"], c["name"]) for c in found["campaigns"]] == [(1, None)]


async def test_the_default_window_is_the_last_30_local_days_by_the_clock(
    client: AppClient, container: punq.Container, mongo_client: MongoClient, db_name: str
) -> None:
    _, owner, _, _ = await seeded(client, mongo_client, db_name)
    use_clock(container, FakeUtcClock(utc(3, 15)))  # 2026-05-03 12:00 in São Paulo
    found = await dashboard(client, owner)
    assert (found["since"], found["until"]) == ("2026-04-04T03:00:00Z", "2026-05-03T15:00:00Z")
    assert found["computed_at"] == "2026-05-03T15:00:00Z"
    days = [d["day"] for d in found["messages"]["by_day"]]
    assert len(days) == 30 and (days[0], days[-1]) == ("2026-04-04", "2026-05-03")
    assert found["messages"]["inbound"] == counts(2, received=2)  # 04-30 23:30 local too
    assert found["conversations"]["opened"] == 7  # those of 04-10 and 04-20 too
    only_until = await dashboard(client, owner, until="2026-05-03T00:00:00Z")
    assert only_until["since"] == "2026-04-03T00:00:00Z"  # 30 days before a given until


async def test_a_second_call_is_served_from_the_cache(
    client: AppClient, mongo_client: MongoClient, db_name: str, redis_client: Redis
) -> None:
    acme, owner, _, _ = await seeded(client, mongo_client, db_name)
    first = await dashboard(client, owner, **WINDOW)
    await mongo_client[db_name]["inbox_messages"].insert_one(
        message(acme.tenant.id or "", utc(2, 12), "inbound", "received")
    )
    second = await dashboard(client, owner, **WINDOW)
    assert (first["cached"], second["cached"]) == (False, True)
    assert {k: v for k, v in second.items() if k != "cached"} == {
        k: v for k, v in first.items() if k != "cached"
    }
    keys = [k async for k in redis_client.scan_iter(f"parley:analytics:{acme.tenant.id}:*")]
    assert len(keys) == 1 and 0 < await redis_client.ttl(keys[0]) <= 60
    other = await dashboard(client, owner, since=SINCE, until="2026-05-03T00:00:00")
    assert other["cached"] is False and other["messages"]["inbound"]["total"] == 2
    await redis_client.delete(*keys)  # the entry gone: computed again, with the new message
    assert (await dashboard(client, owner, **WINDOW))["messages"]["inbound"]["total"] == 2


async def test_with_the_cache_off_every_call_is_computed(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient, redis_client: Redis
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    async with serve(settings.model_copy(update={"analytics_cache_seconds": 0})) as client:
        acme, owner, _, _ = await seeded(client, mongo_client, db_name)
        first = await dashboard(client, owner, **WINDOW)
        await mongo_client[db_name]["inbox_messages"].insert_one(
            message(acme.tenant.id or "", utc(2, 12), "inbound", "received")
        )
        second = await dashboard(client, owner, **WINDOW)
    assert (first["cached"], second["cached"]) == (False, False)
    assert (first["messages"]["inbound"]["total"], second["messages"]["inbound"]["total"]) == (
        1, 2,
    )  # fmt: skip
    assert [k async for k in redis_client.scan_iter("parley:analytics:*")] == []


async def test_the_dashboard_needs_analytics_read(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.get(DASHBOARD, headers=tenant_only), 401, "unauthorized")
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    _, admin = await signed_in(client, acme, owner, "ida@acme.example.com", roles=["admin"])
    for headers in (member, agent):
        assert_problem(await client.get(DASHBOARD, headers=headers), 403, "forbidden")
    assert (await client.get(DASHBOARD, headers=admin)).status_code == 200
    permissions = (await client.get("/api/v1/permissions", headers=owner)).json()
    names = [p["name"] for p in permissions.get("items", permissions)]
    assert "analytics:read" in names


async def test_bad_windows_are_422_with_their_codes(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    cases = [
        ({"since": UNTIL, "until": SINCE}, "invalid_window"),
        ({"since": SINCE, "until": SINCE}, "invalid_window"),
        ({"since": "2099-01-01T00:00:00Z"}, "invalid_window"),  # after now, the default until
        ({"since": "2025-01-01T00:00:00Z", "until": "2026-01-03T00:00:00Z"}, "window_too_long"),
    ]
    for params, code in cases:
        assert_problem(await client.get(DASHBOARD, params=params, headers=owner), 422, code)
    exactly_366 = {"since": "2025-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}
    assert (await client.get(DASHBOARD, params=exactly_366, headers=owner)).status_code == 200
    unreadable = await client.get(DASHBOARD, params={"since": "last week"}, headers=owner)
    assert unreadable.status_code == 422
    assert unreadable.json()["errors"][0]["loc"] == ["query", "since"]
