"""Deactivating and activating templates over HTTP (`templates:manage`): the flag in the
template's JSON, kept by a sync, audited; an inactive template refused by `POST
/messages` (422 `template_inactive`) and by `usable_template` (what campaigns call), which
also refuses unknown and unapproved ones; permissions, tenant isolation."""

from __future__ import annotations

from typing import Any

import punq
import pytest
from bson import ObjectId

from api.domain.messaging.errors import TemplateInactive, TemplateNotApproved, TemplateUnknown
from api.domain.messaging.template_parameters import send_components
from api.domain.messaging.templates import TemplateRepository
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.template_rules import usable_template
from tests.support.app import AppClient, assert_problem
from tests.support.channels import connect
from tests.support.fake_graph import WABA_ID, FakeGraph
from tests.support.people import audit_entries, signed_in, two_tenants
from tests.support.sending import MESSAGES, queued
from tests.support.templates import TEMPLATES, listed, run_sync


async def synced(
    client: AppClient, container: punq.Container, graph: FakeGraph, tenant_id: str,
    headers: dict[str, str],
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:  # fmt: skip
    """(the channel, its templates by name) after a sync of two approved templates and a
    pending one."""
    channel = await connect(client, headers, graph.base_url)
    graph.templates[WABA_ID] = [
        listed(1, name="order_update"), listed(2, name="order_shipped"),
        listed(3, name="order_pending", status="PENDING"),
    ]  # fmt: skip
    await run_sync(container, tenant_id, channel["id"])
    items = (await client.get(TEMPLATES, headers=headers)).json()["items"]
    return channel, {t["name"]: t for t in items}


def template_message(channel_id: str, name: str) -> dict[str, Any]:
    return {"channel_id": channel_id, "to": "+15550001111", "type": "template",
            "template": {"name": name, "language": "en_US", "components": []}}  # fmt: skip


async def test_deactivate_and_activate(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    channel, templates = await synced(client, container, graph, tenant_id, owner)
    update = templates["order_update"]
    assert update["active"] is True

    off = await client.post(f"{TEMPLATES}/{update['id']}/deactivate", headers=owner)
    assert off.status_code == 200, off.text
    assert off.json() == {**update, "active": False}  # nothing else moves
    again = await client.post(f"{TEMPLATES}/{update['id']}/deactivate", headers=owner)
    assert again.json()["active"] is False
    read = await client.get(f"{TEMPLATES}/{update['id']}", headers=owner)
    assert read.json()["active"] is False

    async def names(**filters: Any) -> list[str]:
        response = await client.get(TEMPLATES, params=filters, headers=owner)
        assert response.status_code == 200, response.text
        return sorted(t["name"] for t in response.json()["items"])

    assert await names(active="false") == ["order_update"]
    assert await names(active="true") == ["order_pending", "order_shipped"]
    assert len(await names()) == 3

    # Sends refuse it; the other template still goes; a template Parley has not stored
    # is sent as given (Meta decides).
    refused = await client.post(MESSAGES, json=template_message(channel["id"], "order_update"),
                                headers=owner)  # fmt: skip
    assert "activate" in assert_problem(refused, 422, "template_inactive")["detail"]
    await queued(client, owner, template_message(channel["id"], "order_shipped"))
    await queued(client, owner, template_message(channel["id"], "not_stored_here"))

    # A sync (Meta changed something) keeps Parley's own flag.
    graph.templates[WABA_ID][0]["quality_score"] = {"score": "YELLOW"}
    await run_sync(container, tenant_id, channel["id"])
    resynced = (await client.get(f"{TEMPLATES}/{update['id']}", headers=owner)).json()
    assert resynced["quality"] == "YELLOW" and resynced["active"] is False

    on = await client.post(f"{TEMPLATES}/{update['id']}/activate", headers=owner)
    assert on.status_code == 200 and on.json()["active"] is True
    await queued(client, owner, template_message(channel["id"], "order_update"))

    actions = [e["action"] for e in await audit_entries(client, owner, resource_type="template")]
    assert actions.count("template.deactivated") == 1  # the repeat changed nothing
    assert actions.count("template.activated") == 1


async def test_usable_template_is_what_campaigns_check(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, beta, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    channel, templates = await synced(client, container, graph, tenant_id, owner)
    await client.post(f"{TEMPLATES}/{templates['order_shipped']['id']}/deactivate", headers=owner)
    with tenant_context(TenantId(tenant_id)):
        repository: TemplateRepository = container.resolve(TemplateRepository)
        usable = await usable_template(repository, channel["id"], "order_update", "en_US")
        assert usable.id == templates["order_update"]["id"]
        assert [v.key for v in usable.variables] == ["body.1", "body.2"]
        assert send_components(usable, {"body.1": "Ann", "body.2": "A-1"}) == [
            {"type": "body", "parameters": [{"type": "text", "text": "Ann"},
                                            {"type": "text", "text": "A-1"}]},
        ]  # fmt: skip
        with pytest.raises(TemplateInactive):
            await usable_template(repository, channel["id"], "order_shipped", "en_US")
        with pytest.raises(TemplateNotApproved) as pending:
            await usable_template(repository, channel["id"], "order_pending", "en_US")
        assert pending.value.status == "PENDING"
        with pytest.raises(TemplateUnknown):
            await usable_template(repository, channel["id"], "order_update", "pt_BR")
    # Another tenant's channel holds nothing for this one.
    with tenant_context(TenantId(beta.tenant.id or "")), pytest.raises(TemplateUnknown):
        await usable_template(repository, channel["id"], "order_update", "en_US")


async def test_activation_needs_templates_manage_and_the_tenants_template(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    _, templates = await synced(client, container, graph, acme.tenant.id or "", owner)
    template_id = templates["order_update"]["id"]
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    for action in ("deactivate", "activate"):
        path = f"{TEMPLATES}/{template_id}/{action}"
        assert_problem(await client.post(path), 401, "unauthorized")
        refused = assert_problem(await client.post(path, headers=agent), 403, "forbidden")
        assert "templates:manage" in refused["detail"]
        assert_problem(await client.post(path, headers=beta_owner), 404, "not_found")
        for unknown in (str(ObjectId()), "not-an-id"):
            assert_problem(await client.post(f"{TEMPLATES}/{unknown}/{action}", headers=owner),
                           404, "not_found")  # fmt: skip
    # The agent reads the flag; nothing changed.
    read = await client.get(f"{TEMPLATES}/{template_id}", headers=agent)
    assert read.status_code == 200 and read.json()["active"] is True
