"""Templates through the real worker: `POST /templates/sync` read by the job from the
fake Graph API (every page), and Meta's signed template webhooks (status, quality,
category) changing stored templates, on a channel's webhook and on the platform's, where
they route by the business account (WABA) to every tenant's channel on it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import Channel, ChannelRepository, SecretName
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.messaging.webhooks import WebhookItemDocument
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.e2e.webhooks.conftest import PLATFORM_SECRET
from tests.support.app import AppClient
from tests.support.channels import whatsapp_channel
from tests.support.fake_graph import WABA_ID, FakeGraph, serve_fake_graph
from tests.support.onboarding import onboard, owner_headers
from tests.support.templates import TEMPLATES, listed, run_sync
from tests.support.webhook_calls import post, processed, wait_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "whatsapp"
HOOKS = "/api/v1/webhooks/whatsapp"
SECRET = "tenant-app-secret-0123456789"
TEMPLATE_ID = "594425479261596"  # Meta's example, as in the fixtures
OTHER_WABA = "102290129340999"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    async with serve_fake_graph(fake):
        yield fake


def delivery(name: str, **value: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    payload["entry"][0]["changes"][0]["value"].update(value)
    return payload


async def tenant_channel(
    app: AppClient, graph: FakeGraph, subdomain: str, number: str, waba: str = WABA_ID
) -> tuple[CreatedTenant, dict[str, str], Channel]:
    tenant = await onboard(app, subdomain)
    box: SecretBox = app.container.resolve(SecretBox)
    channel = whatsapp_channel(box, graph.base_url, channel_id=None, phone_number_id=number)
    channel = channel.model_copy(
        update={
            "settings": channel.settings.model_copy(update={"waba_id": waba}),
            "secrets": channel.secrets.with_secret(SecretName.APP_SECRET, box.encrypt(SECRET)),
        }
    )
    with tenant_context(TenantId(tenant.tenant.id or "")):
        repository: ChannelRepository = app.container.resolve(ChannelRepository)
        stored = await repository.add(channel)
    return tenant, await owner_headers(app, tenant), stored


async def only_template(app: AppClient, headers: dict[str, str]) -> dict[str, Any]:
    [found] = (await app.get(TEMPLATES, headers=headers)).json()["items"]
    return dict(found)


async def pending_template(
    app: AppClient, graph: FakeGraph, tenant: CreatedTenant, channel: Channel
) -> None:
    """The channel has Meta's example template (`order_confirmation`), PENDING."""
    waba = channel.business_account_id or ""
    graph.templates[waba] = [listed(0, status="PENDING", name="order_confirmation")]
    graph.templates[waba][0]["id"] = TEMPLATE_ID
    await run_sync(app.container, tenant.tenant.id or "", channel.id or "")


async def test_the_sync_job_reads_every_page(app: AppClient, graph: FakeGraph) -> None:
    _, owner, channel = await tenant_channel(app, graph, "acme", "106540352242922")
    graph.templates[WABA_ID] = [listed(n) for n in range(120)]
    queued = await app.post(f"{TEMPLATES}/sync", json={"channel_id": channel.id}, headers=owner)
    assert queued.status_code == 202, queued.text

    async def synced() -> list[dict[str, Any]]:
        page = (await app.get(TEMPLATES, params={"limit": 100}, headers=owner)).json()
        if page["next_cursor"] is None:
            return []
        rest = await app.get(
            TEMPLATES, params={"limit": 100, "cursor": page["next_cursor"]}, headers=owner
        )
        items: list[dict[str, Any]] = page["items"] + rest.json()["items"]
        return items if len(items) == 120 else []

    found = await wait_for(synced, "120 synced templates", seconds=90)
    assert {t["name"] for t in found} == {f"order_update_{n:03d}" for n in range(120)}
    assert graph.calls("list_templates") == 2


async def test_template_webhooks_on_the_channels_url(app: AppClient, graph: FakeGraph) -> None:
    tenant, owner, channel = await tenant_channel(app, graph, "acme", "106540352242922")
    await pending_template(app, graph, tenant, channel)
    url = f"{HOOKS}/{channel.id}"

    assert (await post(app, url, delivery("template_status"), SECRET)).status_code == 200
    await processed(1)
    rejected = await only_template(app, owner)
    assert rejected["status"] == "REJECTED" and rejected["rejected_reason"] == "INVALID_FORMAT"

    assert (await post(app, url, delivery("template_quality"), SECRET)).status_code == 200
    assert (await post(app, url, delivery("template_category"), SECRET)).status_code == 200
    approved = delivery("template_status", event="APPROVED", reason="NONE")
    assert (await post(app, url, approved, SECRET)).status_code == 200
    await processed(4)
    final = await only_template(app, owner)
    assert final["status"] == "APPROVED" and final["rejected_reason"] is None
    assert final["quality"] == "YELLOW" and final["category"] == "MARKETING"
    assert final["updated_at"] > rejected["updated_at"]

    # The same delivery again changes nothing (its items are settled).
    assert (await post(app, url, delivery("template_status"), SECRET)).status_code == 200
    await processed(5)
    assert (await only_template(app, owner))["status"] == "APPROVED"


async def test_the_platform_webhook_routes_template_events_by_business_account(
    app: AppClient, graph: FakeGraph
) -> None:
    acme, acme_owner, acme_channel = await tenant_channel(app, graph, "acme", "100000000000001")
    beta, beta_owner, beta_channel = await tenant_channel(app, graph, "beta", "100000000000002")
    gamma, gamma_owner, gamma_channel = await tenant_channel(
        app, graph, "gamma", "100000000000003", waba=OTHER_WABA
    )
    for tenant, channel in ((acme, acme_channel), (beta, beta_channel), (gamma, gamma_channel)):
        await pending_template(app, graph, tenant, channel)

    assert (await post(app, HOOKS, delivery("template_status"), PLATFORM_SECRET)).status_code == 200
    await processed(1)
    for owner in (acme_owner, beta_owner):
        assert (await only_template(app, owner))["status"] == "REJECTED"
    assert (await only_template(app, gamma_owner))["status"] == "PENDING"
    claimed = {d.channel_id for d in await WebhookItemDocument.find({}).to_list()}
    assert claimed == {acme_channel.id, beta_channel.id}

    # A tenant's own webhook cannot change templates of a business account it does not hold.
    gamma_url = f"{HOOKS}/{gamma_channel.id}"
    assert (await post(app, gamma_url, delivery("template_status"), SECRET)).status_code == 200
    await processed(2)
    assert (await only_template(app, gamma_owner))["status"] == "PENDING"
