"""Platform analytics over HTTP with data in two tenants: tenants new and active,
messages both ways, AI tokens and stored bytes by UTC day and in total; platform admins
only; the range bounded."""

from __future__ import annotations

from datetime import timedelta

import punq

from api.common.clock import utcnow
from api.domain.ai.values import ModelInfo, Provider, TokenUsage
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.usage import MongoUsageLedger
from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.files import png_bytes, uploaded
from tests.support.inbox import stored_channel
from tests.support.onboarding import admin_headers
from tests.support.people import two_tenants
from tests.support.sending import MESSAGES, customer_wrote

PLATFORM = "/api/v1/analytics/platform"
TEMPLATE = {"name": "order_update", "language": "en_US", "components": []}
MODEL = ModelInfo(id="llama3", provider=Provider.OLLAMA)


async def test_figures_by_day_of_two_tenants(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    admin = await admin_headers(client)
    acme, owner, _, beta_owner = await two_tenants(client)
    # acme: two customers write, one answer is sent, a file, AI tokens; beta: a file only.
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    first = await customer_wrote(
        container, channel, utcnow(), n=1, phone="16505550001", bsuid="US.1"
    )
    await customer_wrote(container, channel, utcnow(), n=2, phone="16505550002", bsuid="US.2")
    body = {"conversation_id": first.conversation_id, "type": "template", "template": TEMPLATE}
    assert (await client.post(MESSAGES, json=body, headers=owner)).status_code == 202
    acme_file = await uploaded(client, owner, png_bytes(1000))
    beta_file = await uploaded(client, beta_owner, png_bytes(2000))
    with tenant_context(TenantId(acme.tenant.id or "")):
        await MongoUsageLedger().add(
            day=utcnow().date().isoformat(), user_id="u1", model=MODEL,
            usage=TokenUsage(input_tokens=30, output_tokens=12),
        )  # fmt: skip

    # Days by the data's own dates (a test running over midnight spans two days).
    today = utcnow().date()
    since = today - timedelta(days=2)
    response = await client.get(
        PLATFORM, params={"from": since.isoformat(), "to": today.isoformat()}, headers=admin
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [d["day"] for d in answer["days"]] == [
        (since + timedelta(days=n)).isoformat() for n in range(3)
    ]
    idle = {
        "tenants_new": 0, "tenants_active": 0, "messages_inbound": 0, "messages_outbound": 0,
        "ai_tokens": 0, "storage_bytes": 0,
    }  # fmt: skip
    assert answer["days"][0] == {"day": since.isoformat(), **idle}
    stored = acme_file["size"] + beta_file["size"]
    created = acme.tenant.created_at.date().isoformat()
    assert next(d for d in answer["days"] if d["day"] == created)["tenants_new"] == 2
    summed = {k: sum(d[k] for d in answer["days"]) for k in idle}
    assert summed == {
        "tenants_new": 2, "tenants_active": summed["tenants_active"], "messages_inbound": 2,
        "messages_outbound": 1, "ai_tokens": 42, "storage_bytes": stored,
    }  # fmt: skip
    assert summed["tenants_active"] in (1, 2)  # acme, on one day or two
    assert {k: v for k, v in answer["totals"].items() if k in idle} == {
        **summed,
        "tenants_active": 1,
    }
    totals = answer["totals"]
    assert totals["tenants"] == 2
    assert totals["tenants_by_status"] == {"active": 2}
    assert (totals["tenants_active"], totals["ai_tokens"]) == (1, 42)
    assert totals["storage_bytes_now"] == stored
    assert answer["cached"] is False
    again = await client.get(
        PLATFORM, params={"from": since.isoformat(), "to": today.isoformat()}, headers=admin
    )
    assert again.json()["cached"] is True

    # Only platform admins; the range is bounded and ordered.
    assert_problem(await client.get(PLATFORM, headers=owner), 403, "forbidden")
    assert_problem(await client.get(PLATFORM), 401, "unauthorized")
    too_long = {"from": (today - timedelta(days=366)).isoformat(), "to": today.isoformat()}
    assert_problem(
        await client.get(PLATFORM, params=too_long, headers=admin), 422, "window_too_long"
    )
    backwards = {"from": today.isoformat(), "to": since.isoformat()}
    assert_problem(
        await client.get(PLATFORM, params=backwards, headers=admin), 422, "invalid_window"
    )
    default = await client.get(PLATFORM, headers=admin)
    assert default.status_code == 200, default.text
    assert len(default.json()["days"]) == 30
