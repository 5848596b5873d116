"""`/api/v1/channels`: connecting a WhatsApp number checked with the (fake) Graph API,
one connection per number across tenants, secrets encrypted and never shown, token
rotation, disconnection, permissions and tenant isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import punq
from bson import ObjectId

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import ChannelRepository, ChannelStatus
from api.domain.messaging.content import OutboundMessage, Recipient, TextContent
from api.domain.messaging.gateway import ChannelGateways
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.mongo import MongoClient
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.app import AppClient, ClientFactory, assert_problem, serve
from tests.support.channels import CHANNELS, connect, connect_body
from tests.support.fake_graph import OTHER_TOKEN, PHONE_NUMBER_ID, TOKEN, WABA_ID, FakeGraph
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import audit_entries, create_role, signed_in, two_tenants
from tests.support.settings import make_settings

CHANNEL_FIELDS = {
    "id", "type", "name", "status", "phone_number_id", "waba_id", "display_phone_number",
    "verified_name", "quality_rating", "api_version", "graph_base_url", "webhook_url",
    "verify_token", "has_access_token", "has_app_secret", "messages_per_second",
    "created_at", "updated_at",
    # every provider's fields (null where the type has none): one channel shape
    "account_id", "bot_id", "bot_username", "api_base_url", "page_id", "page_name",
    "instagram_account_id", "username", "human_agent_tag",
}  # fmt: skip
APP_SECRET = "app-secret-0123456789"


def no_secret_in(text: str) -> None:
    for secret in (TOKEN, OTHER_TOKEN, APP_SECRET):
        assert secret not in text


async def test_connect_a_whatsapp_number(client: AppClient, graph: FakeGraph) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    response = await client.post(
        f"{CHANNELS}/whatsapp", json=connect_body(graph.base_url), headers=owner
    )
    assert response.status_code == 201, response.text
    no_secret_in(response.text)
    channel = response.json()
    assert set(channel) == CHANNEL_FIELDS
    assert channel["type"] == "whatsapp" and channel["status"] == "active"
    assert channel["account_id"] == channel["phone_number_id"] and channel["bot_id"] is None
    assert channel["phone_number_id"] == PHONE_NUMBER_ID and channel["waba_id"] == WABA_ID
    assert channel["display_phone_number"] == "+1 555-010-0199"
    assert channel["verified_name"] == "Acme Support" and channel["quality_rating"] == "GREEN"
    assert channel["api_version"] == "v26.0" and channel["graph_base_url"] == graph.base_url
    assert channel["webhook_url"] == (
        f"http://127.0.0.1:8000/api/v1/webhooks/whatsapp/{channel['id']}"
    )
    assert channel["has_access_token"] is True and channel["has_app_secret"] is True
    assert channel["messages_per_second"] == 80
    assert len(channel["verify_token"]) >= 20  # generated
    checked = graph.requests[-1]
    assert checked.path == f"/v26.0/{PHONE_NUMBER_ID}" and checked.token == TOKEN

    read = await client.get(f"{CHANNELS}/{channel['id']}", headers=owner)
    assert read.status_code == 200 and read.json() == channel
    listed = await client.get(CHANNELS, headers=owner)
    assert listed.json() == {"items": [channel], "total": 1, "page": 1, "page_size": 20}
    assert (await client.get(CHANNELS, params={"type": "telegram"}, headers=owner)).json()[
        "total"
    ] == 0
    entries = await audit_entries(client, owner, action="channel.connected")
    assert len(entries) == 1 and entries[0]["resource_id"] == channel["id"]
    no_secret_in(str(entries))


async def test_given_verify_token_and_rate(client: AppClient, graph: FakeGraph) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(
        client, owner, graph.base_url, verify_token="my-verify-token", messages_per_second=250,
        app_secret=None,
    )  # fmt: skip
    assert channel["verify_token"] == "my-verify-token"
    assert channel["messages_per_second"] == 250 and channel["has_app_secret"] is False


async def test_a_refused_check_is_422_without_secrets(client: AppClient, graph: FakeGraph) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    refused = await client.post(
        f"{CHANNELS}/whatsapp",
        json=connect_body(graph.base_url, access_token="EAAG-not-a-token"),
        headers=owner,
    )
    body = assert_problem(refused, 422, "channel_check_failed")
    assert "Invalid OAuth access token" in body["detail"]
    assert "EAAG-not-a-token" not in refused.text
    # Meta's message naming the token itself is masked.
    graph.fail("phone", 100, message=f"token {TOKEN} and secret {APP_SECRET} are odd")
    echoed = await client.post(
        f"{CHANNELS}/whatsapp", json=connect_body(graph.base_url), headers=owner
    )
    body = assert_problem(echoed, 422, "channel_check_failed")
    no_secret_in(echoed.text)
    assert "***" in body["detail"]
    unreachable = await client.post(
        f"{CHANNELS}/whatsapp", json=connect_body("http://127.0.0.1:9"), headers=owner
    )
    assert (
        "could not be reached" in assert_problem(unreachable, 422, "channel_check_failed")["detail"]
    )
    assert (await client.get(CHANNELS, headers=owner)).json()["total"] == 0


async def test_a_number_is_connected_once_across_tenants(
    client: AppClient, graph: FakeGraph
) -> None:
    _, acme_owner, _, beta_owner = await two_tenants(client)
    channel = await connect(client, acme_owner, graph.base_url)
    for headers in (acme_owner, beta_owner):
        again = await client.post(
            f"{CHANNELS}/whatsapp", json=connect_body(graph.base_url), headers=headers
        )
        assert_problem(again, 409, "conflict")
    deleted = await client.delete(f"{CHANNELS}/{channel['id']}", headers=acme_owner)
    assert deleted.status_code == 204
    moved = await connect(client, beta_owner, graph.base_url)  # free again once disconnected
    assert moved["status"] == "active"
    # Disconnected channels never collide with each other.
    assert (await client.delete(f"{CHANNELS}/{moved['id']}", headers=beta_owner)).status_code == 204
    back = await connect(client, acme_owner, graph.base_url)
    assert (await client.delete(f"{CHANNELS}/{back['id']}", headers=acme_owner)).status_code == 204


async def test_racing_connects_one_wins(client: AppClient, graph: FakeGraph) -> None:
    _, acme_owner, _, beta_owner = await two_tenants(client)
    graph.delay_seconds = 0.2  # both pass the Graph check before either writes
    answers = await asyncio.gather(
        *(
            client.post(f"{CHANNELS}/whatsapp", json=connect_body(graph.base_url), headers=h)
            for h in (acme_owner, beta_owner, acme_owner)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409]


async def test_channel_routes_need_permissions(client: AppClient, graph: FakeGraph) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, graph.base_url)
    one = f"{CHANNELS}/{channel['id']}"
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    await create_role(client, owner, "channel readers", ["channels:read"])
    _, reader = await signed_in(
        client, acme, owner, "rita@acme.example.com", roles=["channel readers"]
    )
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    reads = [("GET", CHANNELS, None), ("GET", one, None)]
    writes = [
        ("POST", f"{CHANNELS}/whatsapp", connect_body(graph.base_url)),
        ("PATCH", one, {"name": "Renamed"}),
        ("DELETE", one, None),
    ]
    for method, url, body in reads + writes:
        assert_problem(await client.request(method, url, json=body, headers=tenant_only), 401,
                       "unauthorized")  # fmt: skip
        assert_problem(await client.request(method, url, json=body, headers=member), 403,
                       "forbidden")  # fmt: skip
    for method, url, body in reads:
        assert (await client.request(method, url, json=body, headers=reader)).status_code == 200
    for method, url, body in writes:
        refused = await client.request(method, url, json=body, headers=reader)
        assert "channels:manage" in assert_problem(refused, 403, "forbidden")["detail"]


async def test_another_tenants_channel_is_not_found(client: AppClient, graph: FakeGraph) -> None:
    _, acme_owner, _, beta_owner = await two_tenants(client)
    channel = await connect(client, acme_owner, graph.base_url)
    one = f"{CHANNELS}/{channel['id']}"
    assert_problem(await client.get(one, headers=beta_owner), 404, "not_found")
    assert_problem(await client.patch(one, json={"name": "Mine"}, headers=beta_owner), 404,
                   "not_found")  # fmt: skip
    assert_problem(await client.delete(one, headers=beta_owner), 404, "not_found")
    assert (await client.get(CHANNELS, headers=beta_owner)).json()["total"] == 0
    unchanged = await client.get(one, headers=acme_owner)
    assert unchanged.json()["name"] == "Support line" and unchanged.json()["status"] == "active"
    for missing in (str(ObjectId()), "not-an-id"):
        assert_problem(await client.get(f"{CHANNELS}/{missing}", headers=acme_owner), 404,
                       "not_found")  # fmt: skip


async def test_bad_input_is_422(client: AppClient, graph: FakeGraph) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    bad_bodies: list[dict[str, Any]] = [
        {},
        connect_body(graph.base_url, phone_number_id="12ab"),
        connect_body(graph.base_url, waba_id=""),
        connect_body(graph.base_url, access_token=""),
        connect_body(graph.base_url, access_token="has spaces"),
        # Found by Schemathesis: a token that cannot be an HTTP header value was a 500.
        connect_body(graph.base_url, access_token="tökén"),
        connect_body(graph.base_url, access_token="tok\x7fen"),
        connect_body(graph.base_url, graph_base_url="ftp://example.com"),
        connect_body(graph.base_url, graph_base_url="https://user:pw@example.com"),
        connect_body(graph.base_url, api_version="26"),
        connect_body(graph.base_url, messages_per_second=0),
        connect_body(graph.base_url, messages_per_second=100000),
        connect_body(graph.base_url, verify_token="short"),
        connect_body(graph.base_url, name=""),
        {**connect_body(graph.base_url), "unknown": 1},
    ]
    for body in bad_bodies:
        answer = await client.post(f"{CHANNELS}/whatsapp", json=body, headers=owner)
        assert_problem(answer, 422, "invalid_input")
        no_secret_in(answer.text)
    for params in ({"type": "fax"}, {"status": "gone"}, {"page": 0}, {"page_size": 1000},
                   {"page": "x"}):  # fmt: skip
        assert_problem(await client.get(CHANNELS, params=params, headers=owner), 422,
                       "invalid_input")  # fmt: skip
    channel = await connect(client, owner, graph.base_url)
    one = f"{CHANNELS}/{channel['id']}"
    for body in ({"unknown": 1}, {"messages_per_second": -1}, {"name": ""},
                 {"graph_base_url": "nope"}, {"access_token": 5},
                 {"access_token": "tökén"}):  # fmt: skip
        assert_problem(await client.patch(one, json=body, headers=owner), 422, "invalid_input")
    assert graph.calls("phone") == 1  # nothing invalid reached Graph


async def test_secrets_are_encrypted_at_rest(
    client: AppClient, container: punq.Container, graph: FakeGraph,
    mongo_client: MongoClient, db_name: str,
) -> None:  # fmt: skip
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, graph.base_url)
    raw = await mongo_client[db_name]["channels"].find_one({"_id": ObjectId(channel["id"])})
    assert raw is not None and raw["tenant_id"] == acme.tenant.id
    no_secret_in(str(raw))
    box = container.resolve(SecretBox)
    assert box.decrypt(raw["secrets"]["access_token"]) == TOKEN
    assert box.decrypt(raw["secrets"]["app_secret"]) == APP_SECRET
    assert raw["account_key"] == f"whatsapp:{PHONE_NUMBER_ID}"


async def _send_through(container: punq.Container, tenant: CreatedTenant, channel_id: str) -> None:
    with tenant_context(TenantId(tenant.tenant.id or "")):
        stored = await container.resolve(ChannelRepository).get(channel_id)
    assert stored is not None
    gateway = container.resolve(ChannelGateways).for_channel(stored)
    await gateway.send(
        OutboundMessage(recipient=Recipient(phone="16505551234"), content=TextContent(body="hi"))
    )


async def test_token_rotation_replaces_the_client(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, graph.base_url)
    one = f"{CHANNELS}/{channel['id']}"
    await _send_through(container, acme, channel["id"])
    refused = await client.patch(one, json={"access_token": "EAAG-expired"}, headers=owner)
    assert_problem(refused, 422, "channel_check_failed")
    await _send_through(container, acme, channel["id"])  # the old token still in use
    rotated = await client.patch(one, json={"access_token": OTHER_TOKEN}, headers=owner)
    assert rotated.status_code == 200, rotated.text
    no_secret_in(rotated.text)
    assert graph.tokens_seen("phone")[-1] == OTHER_TOKEN
    await _send_through(container, acme, channel["id"])
    assert graph.tokens_seen("send") == [TOKEN, TOKEN, OTHER_TOKEN]
    entries = await audit_entries(client, owner, action="channel.updated")
    assert entries[0]["changes"]["access_token_rotated"] is True
    no_secret_in(str(entries))


async def test_a_working_token_revives_a_token_invalid_channel(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, graph.base_url)
    repository = container.resolve(ChannelRepository)
    with tenant_context(TenantId(acme.tenant.id or "")):
        stored = await repository.get(channel["id"])
        assert stored is not None
        await repository.replace(stored.model_copy(update={"status": ChannelStatus.TOKEN_INVALID}))
    one = f"{CHANNELS}/{channel['id']}"
    assert (await client.get(one, headers=owner)).json()["status"] == "token_invalid"
    renamed = await client.patch(one, json={"name": "Renamed"}, headers=owner)
    assert renamed.json()["status"] == "token_invalid" and renamed.json()["name"] == "Renamed"
    revived = await client.patch(one, json={"access_token": OTHER_TOKEN}, headers=owner)
    assert revived.json()["status"] == "active"


async def test_patch_fields_and_app_secret_removal(client: AppClient, graph: FakeGraph) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, graph.base_url)
    one = f"{CHANNELS}/{channel['id']}"
    changed = await client.patch(
        one,
        json={"name": "Sales", "messages_per_second": 500, "verify_token": "another-token",
              "app_secret": None},
        headers=owner,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["messages_per_second"], body["verify_token"]) == (
        "Sales", 500, "another-token",
    )  # fmt: skip
    assert body["has_app_secret"] is False and body["has_access_token"] is True
    assert graph.calls("phone") == 1  # no new credentials: no new check
    same = await client.patch(one, json={}, headers=owner)
    assert same.json()["updated_at"] == body["updated_at"]


async def test_disconnect_keeps_the_channel(client: AppClient, graph: FakeGraph) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, graph.base_url)
    one = f"{CHANNELS}/{channel['id']}"
    assert (await client.delete(one, headers=owner)).status_code == 204
    gone = (await client.get(one, headers=owner)).json()
    assert gone["status"] == "disconnected"
    assert gone["has_access_token"] is False and gone["has_app_secret"] is False
    assert (await client.delete(one, headers=owner)).status_code == 204  # idempotent
    assert_problem(await client.patch(one, json={"name": "x"}, headers=owner), 409, "conflict")
    listed = await client.get(CHANNELS, params={"status": "disconnected"}, headers=owner)
    assert [c["id"] for c in listed.json()["items"]] == [channel["id"]]
    actions = [e["action"] for e in await audit_entries(client, owner)]
    assert actions.count("channel.disconnected") == 1


async def test_defaults_come_from_settings(
    graph: FakeGraph, mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.whatsapp.graph_base_url = graph.base_url
    settings.whatsapp.api_version = "v25.0"
    settings.whatsapp.messages_per_second = 40
    settings.server.public_base_url = "https://parley.example.com/"
    async with serve(settings) as client:
        acme = await onboard(client, "acme")
        owner = await owner_headers(client, acme)
        channel = await connect(client, owner, graph.base_url, graph_base_url=None)
    assert channel["graph_base_url"] == graph.base_url and channel["api_version"] == "v25.0"
    assert channel["messages_per_second"] == 40
    assert channel["webhook_url"].startswith("https://parley.example.com/api/v1/webhooks/")
    assert graph.requests[-1].path == f"/v25.0/{PHONE_NUMBER_ID}"


async def test_existing_tenants_owners_get_new_permissions(
    make_client: ClientFactory, mongo_client: MongoClient, db_name: str, graph: FakeGraph
) -> None:
    async with make_client() as first:
        acme = await onboard(first, "acme")
    roles = mongo_client[db_name]["roles"]
    await roles.update_many(  # as written before channels existed
        {"tenant_id": acme.tenant.id, "system": True},
        {"$pull": {"permissions": {"$in": ["channels:read", "channels:manage"]}}},
    )
    async with make_client() as second:  # start-up brings the system roles up to date
        owner = await owner_headers(second, acme)
        channel = await connect(second, owner, graph.base_url)
    assert channel["status"] == "active"
    owner_role = await roles.find_one({"tenant_id": acme.tenant.id, "name_lower": "owner"})
    assert owner_role is not None
    assert {"channels:read", "channels:manage"} <= set(owner_role["permissions"])


async def test_a_graph_base_url_the_deployment_does_not_allow_is_refused(
    graph: FakeGraph, mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.whatsapp.graph_base_url = graph.base_url
    settings.whatsapp.allowed_graph_base_urls = ["https://graph.example.net"]
    async with serve(settings) as client:
        owner = await owner_headers(client, await onboard(client, "acme"))
        for evil in (
            "http://169.254.169.254",
            "http://127.0.0.1:6379",
            "https://graph.example.net.evil.io",
        ):
            refused = await client.post(
                f"{CHANNELS}/whatsapp", json=connect_body(graph.base_url, graph_base_url=evil),
                headers=owner,
            )  # fmt: skip
            assert_problem(refused, 422, "graph_base_url_not_allowed")
        assert graph.requests == []  # the token went nowhere
        channel = await connect(client, owner, graph.base_url, graph_base_url=None)
        moved = await client.patch(
            f"{CHANNELS}/{channel['id']}", json={"graph_base_url": "http://10.0.0.1"}, headers=owner
        )
        assert_problem(moved, 422, "graph_base_url_not_allowed")
        assert len(graph.requests) == 1  # only the connect's check
