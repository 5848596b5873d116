"""`/api/v1/templates` against the real servers and the fake Graph API: create (checked
against Meta's rules, submitted, Meta's refusals as 422), sync (every page; templates
gone from Meta kept as DELETED), list filters and cursor paging, read, delete (at Meta by
name and id, then here), permissions, tenant isolation, bad input, audit."""

from __future__ import annotations

from typing import Any

import punq
import pytest
from bson import ObjectId

from api.domain.messaging.channels import Channel, ChannelRepository, SecretName
from api.domain.messaging.errors import ChannelTokenInvalid
from api.domain.tenancy import TenantId, tenant_context
from tests.support.app import AppClient, assert_problem
from tests.support.channels import CHANNELS, connect
from tests.support.fake_graph import OTHER_TOKEN, TOKEN, WABA_ID, FakeGraph
from tests.support.inbox import stored_channel
from tests.support.people import audit_entries, create_role, signed_in, two_tenants
from tests.support.templates import (
    ORDER_CONFIRMATION,
    TEMPLATES,
    listed,
    run_sync,
    template_body,
)

TEMPLATE_FIELDS = {
    "id", "channel_id", "waba_id", "external_id", "name", "language", "category", "status",
    "parameter_format", "components", "variables", "quality", "rejected_reason",
    "active", "created_at", "updated_at",
}  # fmt: skip
APP_SECRET = "app-secret-0123456789"


def no_secret_in(text: str) -> None:
    for secret in (TOKEN, OTHER_TOKEN, APP_SECRET):
        assert secret not in text


async def pages(
    client: AppClient, headers: dict[str, str], limit: int, **filters: Any
) -> list[list[dict[str, Any]]]:
    seen: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **filters}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(TEMPLATES, params=params, headers=headers)
        assert response.status_code == 200, response.text
        seen.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return seen


async def test_create_submits_to_meta_and_stores(client: AppClient, graph: FakeGraph) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    response = await client.post(TEMPLATES, json=template_body(channel["id"]), headers=owner)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == TEMPLATE_FIELDS
    assert created["channel_id"] == channel["id"] and created["waba_id"] == WABA_ID
    assert created["name"] == "seasonal_promotion" and created["language"] == "en_US"
    assert created["category"] == "MARKETING" and created["status"] == "PENDING"
    assert created["parameter_format"] == "POSITIONAL" and created["rejected_reason"] is None
    assert created["active"] is True
    assert created["variables"] == [
        {"key": "header.1", "component": "header", "index": 1, "type": "text",
         "example": "Summer Sale", "button_index": None},
        {"key": "body.1", "component": "body", "index": 1, "type": "text",
         "example": "the end of August", "button_index": None},
        {"key": "body.2", "component": "body", "index": 2, "type": "text", "example": "25OFF",
         "button_index": None},
        {"key": "body.3", "component": "body", "index": 3, "type": "text", "example": "25%",
         "button_index": None},
        {"key": "button.1.1", "component": "button", "index": 1, "type": "text",
         "example": "https://www.example.com/shop/summer", "button_index": 1},
    ]  # fmt: skip
    submitted = graph.requests[-1]
    assert submitted.endpoint == "create_template" and submitted.method == "POST"
    assert submitted.path == f"/v26.0/{WABA_ID}/message_templates" and submitted.token == TOKEN
    assert submitted.body == {
        "name": "seasonal_promotion", "language": "en_US", "category": "MARKETING",
        "components": template_body(channel["id"])["components"],
    }  # fmt: skip
    assert created["external_id"] == graph.templates[WABA_ID][0]["id"]

    read = await client.get(f"{TEMPLATES}/{created['id']}", headers=owner)
    assert read.status_code == 200 and read.json() == created
    listing = await client.get(TEMPLATES, headers=owner)
    assert listing.json() == {"items": [created], "next_cursor": None}
    [entry] = await audit_entries(client, owner, action="template.created")
    assert entry["resource_id"] == created["id"] and entry["changes"]["name"] == created["name"]
    no_secret_in(str(entry))


async def test_named_parameters_are_submitted_as_named(client: AppClient, graph: FakeGraph) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    body = template_body(
        channel["id"], name="order_confirmation", category="utility",
        components=ORDER_CONFIRMATION,
    )  # fmt: skip
    response = await client.post(TEMPLATES, json=body, headers=owner)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["parameter_format"] == "NAMED" and created["category"] == "UTILITY"
    assert [(v["index"], v["example"]) for v in created["variables"]] == [
        ("first_name", "Pablo"), ("order_number", "860198-230332"),
    ]  # fmt: skip
    assert [v["key"] for v in created["variables"]] == ["body.first_name", "body.order_number"]
    assert graph.requests[-1].body["parameter_format"] == "NAMED"


async def test_invalid_templates_are_refused_before_meta(
    client: AppClient, graph: FakeGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    body_without_example = [{"type": "BODY", "text": "Hi {{1}}"}]
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (template_body(channel["id"], name="Summer Sale"), ["name"]),
        (template_body(channel["id"], category="PROMO"), ["category"]),
        (template_body(channel["id"], components=[{"type": "FOOTER", "text": "x"}]),
         ["components"]),
        (template_body(channel["id"], components=body_without_example),
         ["components", 0, "example"]),
    ]  # fmt: skip
    for body, loc in cases:
        refused = assert_problem(
            await client.post(TEMPLATES, json=body, headers=owner), 422, "invalid_template"
        )
        assert any(error["loc"] == loc for error in refused["errors"]), refused
    assert graph.calls("create_template") == 0
    assert (await client.get(TEMPLATES, headers=owner)).json()["items"] == []


async def test_meta_refusals(client: AppClient, graph: FakeGraph) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    # Meta already has this name and language (made in its dashboard, not synced yet).
    graph.templates[WABA_ID] = [listed(1, name="seasonal_promotion")]
    refused = assert_problem(
        await client.post(TEMPLATES, json=template_body(channel["id"]), headers=owner),
        422, "template_rejected",
    )  # fmt: skip
    assert "(100)" in refused["detail"]
    assert "There is already content for this template in this language." in refused["detail"]
    no_secret_in(refused["detail"])
    graph.fail("create_template", 131000)
    assert_problem(
        await client.post(TEMPLATES, json=template_body(channel["id"], name="other"),
                          headers=owner),
        503, "service_unavailable",
    )  # fmt: skip
    assert (await client.get(TEMPLATES, headers=owner)).json()["items"] == []
    assert await audit_entries(client, owner, action="template.created") == []


async def test_a_name_and_language_once_per_channel(client: AppClient, graph: FakeGraph) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    body = template_body(channel["id"])
    assert (await client.post(TEMPLATES, json=body, headers=owner)).status_code == 201
    assert_problem(await client.post(TEMPLATES, json=body, headers=owner), 409, "conflict")
    other_language = {**body, "language": "pt_BR"}
    assert (await client.post(TEMPLATES, json=other_language, headers=owner)).status_code == 201
    assert graph.calls("create_template") == 2


async def test_sync_reads_every_page_and_marks_what_meta_dropped(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    tenant_id = acme.tenant.id or ""
    graph.templates[WABA_ID] = [
        listed(n, status="APPROVED" if n % 3 else "REJECTED",
               category="MARKETING" if n % 2 else "UTILITY")
        for n in range(105)
    ]  # fmt: skip
    outcome = await run_sync(container, tenant_id, channel["id"])
    assert outcome.model_dump() == {"created": 105, "updated": 0, "deleted": 0}
    assert graph.calls("list_templates") == 2  # two pages of at most 100

    seen = await pages(client, owner, 40)
    assert [len(page) for page in seen] == [40, 40, 25]
    every = [t for page in seen for t in page]
    assert len({t["id"] for t in every}) == 105
    one = next(t for t in every if t["name"] == "order_update_007")
    assert one["external_id"] == "800000000000007" and one["quality"] == "GREEN"
    assert one["variables"] == [
        {
            "key": "body.1",
            "component": "body",
            "index": 1,
            "type": "text",
            "example": "Ann",
            "button_index": None,
        },
        {
            "key": "body.2",
            "component": "body",
            "index": 2,
            "type": "text",
            "example": "A-7",
            "button_index": None,
        },
    ]

    # Nothing changed at Meta: nothing written. Then one is gone and one changed.
    assert (await run_sync(container, tenant_id, channel["id"])).model_dump() == {
        "created": 0, "updated": 0, "deleted": 0,
    }  # fmt: skip
    dropped = graph.templates[WABA_ID].pop(0)
    graph.templates[WABA_ID][0]["status"] = "PAUSED"
    assert (await run_sync(container, tenant_id, channel["id"])).model_dump() == {
        "created": 0, "updated": 1, "deleted": 1,
    }  # fmt: skip
    [gone] = (await client.get(TEMPLATES, params={"status": "deleted"}, headers=owner)).json()[
        "items"
    ]
    assert gone["name"] == dropped["name"] and gone["status"] == "DELETED"
    [paused] = (await client.get(TEMPLATES, params={"status": "PAUSED"}, headers=owner)).json()[
        "items"
    ]
    assert paused["name"] == "order_update_001"
    synced = await audit_entries(client, owner, action="template.synced")
    assert [e["changes"]["deleted"] for e in synced] == [1, 0]


async def test_list_filters(client: AppClient, container: punq.Container, graph: FakeGraph) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    second: Channel = await stored_channel(
        container, acme.tenant.id or "", graph.base_url, phone_number_id="333444555666"
    )
    graph.templates[WABA_ID] = [
        listed(1, status="APPROVED", category="MARKETING", name="summer_sale"),
        listed(2, status="REJECTED", category="UTILITY", name="order_shipped"),
        listed(3, status="APPROVED", category="UTILITY", name="order_delivered"),
    ]
    await run_sync(container, acme.tenant.id or "", channel["id"])
    await run_sync(container, acme.tenant.id or "", second.id or "")

    async def names(**filters: Any) -> list[str]:
        response = await client.get(TEMPLATES, params=filters, headers=owner)
        assert response.status_code == 200, response.text
        return sorted(t["name"] for t in response.json()["items"])

    assert len(await names()) == 6  # one copy per channel of the business account
    assert await names(channel_id=channel["id"]) == [
        "order_delivered", "order_shipped", "summer_sale",
    ]  # fmt: skip
    assert await names(channel_id=channel["id"], status="approved") == [
        "order_delivered", "summer_sale",
    ]  # fmt: skip
    assert await names(channel_id=channel["id"], category="UTILITY") == [
        "order_delivered", "order_shipped",
    ]  # fmt: skip
    assert await names(channel_id=channel["id"], q="order_") == [
        "order_delivered", "order_shipped",
    ]  # fmt: skip
    assert await names(channel_id=channel["id"], q="ORDER_S", status="REJECTED") == [
        "order_shipped"
    ]
    assert await names(q=".*") == []  # the text is matched literally
    assert await names(channel_id=str(ObjectId())) == []


async def test_delete_at_meta_then_here(client: AppClient, graph: FakeGraph) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    created = (
        await client.post(TEMPLATES, json=template_body(channel["id"]), headers=owner)
    ).json()
    one = f"{TEMPLATES}/{created['id']}"
    graph.fail("delete_template", 100, message="Invalid parameter")
    assert_problem(await client.delete(one, headers=owner), 422, "template_rejected")
    assert (await client.get(one, headers=owner)).status_code == 200
    assert len(graph.templates[WABA_ID]) == 1

    assert (await client.delete(one, headers=owner)).status_code == 204
    deleted = graph.requests[-1]
    assert deleted.method == "DELETE" and deleted.endpoint == "delete_template"
    assert deleted.path == f"/v26.0/{WABA_ID}/message_templates" and deleted.token == TOKEN
    assert graph.templates[WABA_ID] == []
    assert_problem(await client.get(one, headers=owner), 404, "not_found")
    assert_problem(await client.delete(one, headers=owner), 404, "not_found")
    [entry] = await audit_entries(client, owner, action="template.deleted")
    assert entry["resource_id"] == created["id"]
    assert entry["changes"]["deleted_at_provider"] is True


async def test_a_template_meta_dropped_is_only_removed_here(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    graph.templates[WABA_ID] = [listed(1)]
    await run_sync(container, acme.tenant.id or "", channel["id"])
    graph.templates[WABA_ID] = []
    await run_sync(container, acme.tenant.id or "", channel["id"])
    [gone] = (await client.get(TEMPLATES, headers=owner)).json()["items"]
    assert gone["status"] == "DELETED"
    assert (await client.delete(f"{TEMPLATES}/{gone['id']}", headers=owner)).status_code == 204
    assert graph.calls("delete_template") == 0


async def test_sync_is_queued(client: AppClient, graph: FakeGraph) -> None:
    _, owner, _, beta_owner = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    response = await client.post(
        f"{TEMPLATES}/sync", json={"channel_id": channel["id"]}, headers=owner
    )
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["channel_id"] == channel["id"] and queued["status"] == "queued"
    assert queued["job_id"]
    [entry] = await audit_entries(client, owner, action="template.sync_requested")
    assert entry["resource_id"] == channel["id"]
    # Another tenant's channel, an unknown one, a disconnected one.
    for channel_id, headers in ((channel["id"], beta_owner), (str(ObjectId()), owner),
                                ("nope", owner)):  # fmt: skip
        assert_problem(
            await client.post(f"{TEMPLATES}/sync", json={"channel_id": channel_id},
                              headers=headers),
            404, "not_found",
        )  # fmt: skip
    assert (await client.delete(f"{CHANNELS}/{channel['id']}", headers=owner)).status_code == 204
    assert_problem(
        await client.post(f"{TEMPLATES}/sync", json={"channel_id": channel["id"]}, headers=owner),
        409, "conflict",
    )  # fmt: skip
    assert_problem(
        await client.post(TEMPLATES, json=template_body(channel["id"]), headers=owner),
        409, "conflict",
    )  # fmt: skip


async def test_permissions(client: AppClient, graph: FakeGraph) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    created = (
        await client.post(TEMPLATES, json=template_body(channel["id"]), headers=owner)
    ).json()
    one = f"{TEMPLATES}/{created['id']}"
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    await create_role(client, owner, "template managers", ["templates:manage"])
    _, manager = await signed_in(
        client, acme, owner, "tim@acme.example.com", roles=["template managers"]
    )
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    reads = [("GET", TEMPLATES, None), ("GET", one, None)]
    writes = [
        ("POST", f"{TEMPLATES}/sync", {"channel_id": channel["id"]}),
        ("POST", TEMPLATES, template_body(channel["id"], name="other")),
        ("DELETE", one, None),
    ]
    for method, url, body in reads + writes:
        assert_problem(await client.request(method, url, json=body, headers=tenant_only), 401,
                       "unauthorized")  # fmt: skip
        assert_problem(await client.request(method, url, json=body, headers=member), 403,
                       "forbidden")  # fmt: skip
    for method, url, body in reads:
        assert (await client.request(method, url, json=body, headers=agent)).status_code == 200
        assert_problem(await client.request(method, url, json=body, headers=manager), 403,
                       "forbidden")  # fmt: skip
    for method, url, body in writes:
        refused = await client.request(method, url, json=body, headers=agent)
        assert "templates:manage" in assert_problem(refused, 403, "forbidden")["detail"]
    for method, url, body in writes:
        answered = await client.request(method, url, json=body, headers=manager)
        assert answered.status_code in (201, 202, 204), answered.text


async def test_another_tenants_templates_are_not_found(client: AppClient, graph: FakeGraph) -> None:
    _, acme_owner, _, beta_owner = await two_tenants(client)
    channel = await connect(client, acme_owner, graph.base_url)
    created = (
        await client.post(TEMPLATES, json=template_body(channel["id"]), headers=acme_owner)
    ).json()
    one = f"{TEMPLATES}/{created['id']}"
    assert_problem(await client.get(one, headers=beta_owner), 404, "not_found")
    assert_problem(await client.delete(one, headers=beta_owner), 404, "not_found")
    assert (await client.get(TEMPLATES, headers=beta_owner)).json()["items"] == []
    filtered = await client.get(TEMPLATES, params={"channel_id": channel["id"]},
                                headers=beta_owner)  # fmt: skip
    assert filtered.json()["items"] == []
    stolen = template_body(channel["id"], name="stolen")
    assert_problem(await client.post(TEMPLATES, json=stolen, headers=beta_owner), 404,
                   "not_found")  # fmt: skip
    assert graph.calls("create_template") == 1 and graph.calls("delete_template") == 0
    assert (await client.get(one, headers=acme_owner)).status_code == 200
    for missing in (str(ObjectId()), "not-an-id"):
        assert_problem(await client.get(f"{TEMPLATES}/{missing}", headers=acme_owner), 404,
                       "not_found")  # fmt: skip


async def test_bad_input_is_422(client: AppClient, graph: FakeGraph) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    bad_bodies: list[Any] = [
        {},
        template_body(channel["id"], components=[]),
        template_body(channel["id"], components="BODY"),
        template_body(channel["id"], language="e"),
        {**template_body(channel["id"]), "unexpected": 1},
        template_body(channel["id"], name="x" * 513),
    ]
    for body in bad_bodies:
        assert_problem(await client.post(TEMPLATES, json=body, headers=owner), 422,
                       "invalid_input")  # fmt: skip
    for body in ({}, {"channel_id": ""}, {"channel_id": channel["id"], "extra": True}):
        assert_problem(await client.post(f"{TEMPLATES}/sync", json=body, headers=owner), 422,
                       "invalid_input")  # fmt: skip
    for params in ({"limit": 0}, {"limit": 101}, {"category": "PROMO"}, {"cursor": "garbage"},
                   {"q": ""}):  # fmt: skip
        assert_problem(await client.get(TEMPLATES, params=params, headers=owner), 422,
                       "invalid_input")  # fmt: skip
    assert graph.calls("create_template") == 0


async def test_a_refused_token_marks_the_channel_but_not_a_rotated_one(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await connect(client, owner, graph.base_url)
    read = f"{CHANNELS}/{channel['id']}"
    graph.fail("list_templates", 190)
    with pytest.raises(ChannelTokenInvalid):
        await run_sync(container, acme.tenant.id or "", channel["id"])
    assert (await client.get(read, headers=owner)).json()["status"] == "token_invalid"

    rotated = await client.patch(read, json={"access_token": OTHER_TOKEN}, headers=owner)
    assert rotated.json()["status"] == "active"
    graph.fail("create_template", 190)
    refused = await client.post(TEMPLATES, json=template_body(channel["id"]), headers=owner)
    assert_problem(refused, 422, "template_rejected")
    assert (await client.get(read, headers=owner)).json()["status"] == "token_invalid"

    # A call made with a token rotated away since does not mark the new one.
    with tenant_context(TenantId(acme.tenant.id or "")):
        channels: ChannelRepository = container.resolve(ChannelRepository)
        stale = await channels.get(channel["id"])
        assert stale is not None
        await client.patch(read, json={"access_token": TOKEN}, headers=owner)
        assert not await channels.mark_token_invalid(
            channel["id"], stale.secrets.get(SecretName.ACCESS_TOKEN) or "", stale.updated_at
        )
    assert (await client.get(read, headers=owner)).json()["status"] == "active"
