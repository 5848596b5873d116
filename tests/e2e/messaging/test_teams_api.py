"""`/api/v1/teams` over HTTP: create, list, read, change and delete teams; names unique per
tenant regardless of case (409), members users of the tenant (422); `teams:manage` to
write (owner, admin; not agent, not member), `inbox:read` to read; tenant isolation;
audited; deleting a team takes it off its conversations."""

from __future__ import annotations

from typing import Any

import punq

from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import channel_of, from_customer, receive
from tests.support.people import audit_entries, signed_in, two_tenants

TEAMS = "/api/v1/teams"
CONVERSATIONS = "/api/v1/conversations"


async def test_teams_end_to_end(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    ada, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    owner_id = acme.owner.id

    created = await client.post(
        TEAMS, json={"name": "  Billing   desk ", "member_ids": [ada["id"], ada["id"]]},
        headers=owner,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    billing = created.json()
    assert set(billing) == {"id", "name", "member_ids", "created_at", "updated_at"}
    assert billing["name"] == "Billing desk" and billing["member_ids"] == [ada["id"]]
    sales = (await client.post(TEAMS, json={"name": "Sales"}, headers=owner)).json()
    assert sales["member_ids"] == []

    listed = await client.get(TEAMS, params={"page_size": 1}, headers=agent)  # inbox:read
    assert listed.status_code == 200
    assert listed.json() == {"items": [billing], "total": 2, "page": 1, "page_size": 1}
    assert (await client.get(f"{TEAMS}/{sales['id']}", headers=agent)).json() == sales

    changed = await client.patch(
        f"{TEAMS}/{sales['id']}", json={"name": "Sales EU", "member_ids": [owner_id, ada["id"]]},
        headers=owner,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Sales EU"
    assert changed.json()["member_ids"] == [owner_id, ada["id"]]
    unchanged = await client.patch(f"{TEAMS}/{sales['id']}", json={}, headers=owner)
    assert unchanged.json() == changed.json()

    taken = await client.post(TEAMS, json={"name": "billing DESK"}, headers=owner)
    assert_problem(taken, 409, "team_name_taken")
    renamed = await client.patch(f"{TEAMS}/{sales['id']}", json={"name": "BILLING desk"},
                                 headers=owner)  # fmt: skip
    assert_problem(renamed, 409, "team_name_taken")

    deleted = await client.delete(f"{TEAMS}/{sales['id']}", headers=owner)
    assert deleted.status_code == 204
    assert_problem(await client.get(f"{TEAMS}/{sales['id']}", headers=owner), 404, "not_found")
    assert_problem(await client.delete(f"{TEAMS}/{sales['id']}", headers=owner), 404, "not_found")

    actions = {e["action"]: e for e in await audit_entries(client, owner, resource_type="team")}
    assert set(actions) == {"team.created", "team.updated", "team.deleted"}
    assert actions["team.updated"]["changes"]["name"] == {"from": "Sales", "to": "Sales EU"}
    assert actions["team.deleted"]["resource_id"] == sales["id"]


async def test_members_must_be_users_of_the_tenant(client: AppClient) -> None:
    _, owner, beta, beta_owner = await two_tenants(client)
    stranger, _ = await signed_in(client, beta, beta_owner, "sam@beta.example.com")
    for member_ids in ([stranger["id"]], ["not-an-id"], ["0" * 24]):
        refused = await client.post(
            TEAMS, json={"name": "Support", "member_ids": member_ids}, headers=owner
        )
        body = assert_problem(refused, 422, "unknown_members")
        assert body["errors"][0]["loc"] == ["member_ids"]
    team = (await client.post(TEAMS, json={"name": "Support"}, headers=owner)).json()
    refused = await client.patch(
        f"{TEAMS}/{team['id']}", json={"member_ids": [stranger["id"]]}, headers=owner
    )
    assert_problem(refused, 422, "unknown_members")


BAD_BODIES: list[dict[str, Any]] = [
    {}, {"name": ""}, {"name": "x" * 101}, {"name": 5}, {"name": "A", "member_ids": "x"},
    {"name": "A", "member_ids": [""]}, {"name": "A", "member_ids": ["x"] * 201},
    {"name": "A", "extra": 1},
]  # fmt: skip


async def test_bad_team_bodies_are_422(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    for body in [*BAD_BODIES, {"name": "   "}]:
        assert_problem(await client.post(TEAMS, json=body, headers=owner), 422, "invalid_input")
    team = (await client.post(TEAMS, json={"name": "Support"}, headers=owner)).json()
    bad_changes: list[dict[str, Any]] = [
        {"name": ""}, {"name": "  "}, {"member_ids": [""]}, {"extra": 1},
    ]  # fmt: skip
    for change in bad_changes:
        response = await client.patch(f"{TEAMS}/{team['id']}", json=change, headers=owner)
        assert_problem(response, 422, "invalid_input")


async def test_who_may_read_and_manage_teams(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    team = (await client.post(TEAMS, json={"name": "Support"}, headers=owner)).json()
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    _, admin = await signed_in(client, acme, owner, "ida@acme.example.com", roles=["admin"])
    no_token = {"X-Tenant-ID": acme.tenant.id or ""}
    one = f"{TEAMS}/{team['id']}"
    writes = [("POST", TEAMS, {"name": "New"}), ("PATCH", one, {"name": "Renamed"}),
              ("DELETE", one, None)]  # fmt: skip
    for method, url, body in writes:
        for headers, status, code in (
            (no_token, 401, "unauthorized"),
            (member, 403, "forbidden"),
            (agent, 403, "forbidden"),
        ):
            response = await client.request(method, url, json=body, headers=headers)
            assert_problem(response, status, code)
    for url in (TEAMS, one):
        assert_problem(await client.get(url, headers=no_token), 401, "unauthorized")
        assert_problem(await client.get(url, headers=member), 403, "forbidden")
        assert (await client.get(url, headers=agent)).status_code == 200
    for method, url, body in writes:
        response = await client.request(method, url, json=body, headers=admin)
        assert response.status_code < 300, response.text


async def test_another_tenants_team_is_invisible(client: AppClient) -> None:
    _, acme_owner, _, beta_owner = await two_tenants(client)
    team = (await client.post(TEAMS, json={"name": "Support"}, headers=acme_owner)).json()
    mirror = await client.post(TEAMS, json={"name": "Support"}, headers=beta_owner)
    assert mirror.status_code == 201  # names are unique per tenant only
    one = f"{TEAMS}/{team['id']}"
    assert_problem(await client.get(one, headers=beta_owner), 404, "not_found")
    renamed = await client.patch(one, json={"name": "Mine"}, headers=beta_owner)
    assert_problem(renamed, 404, "not_found")
    assert_problem(await client.delete(one, headers=beta_owner), 404, "not_found")
    beta_list = (await client.get(TEAMS, headers=beta_owner)).json()["items"]
    assert [t["id"] for t in beta_list] == [mirror.json()["id"]]
    assert (await client.get(one, headers=acme_owner)).json() == team


async def test_deleting_a_team_takes_it_off_its_conversations(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, "111000111000")
    await receive(container, from_customer(1, 0), channel)
    conversation = (await client.get(CONVERSATIONS, headers=owner)).json()["items"][0]
    team = (await client.post(TEAMS, json={"name": "Support"}, headers=owner)).json()
    assigned = await client.post(
        f"{CONVERSATIONS}/{conversation['id']}/assign",
        json={"assignee_id": None, "team_id": team["id"]}, headers=owner,
    )  # fmt: skip
    assert assigned.json()["team_id"] == team["id"]
    assert (await client.delete(f"{TEAMS}/{team['id']}", headers=owner)).status_code == 204
    after = (await client.get(f"{CONVERSATIONS}/{conversation['id']}", headers=owner)).json()
    assert after["team_id"] is None
    deleted = await audit_entries(client, owner, action="team.deleted")
    assert deleted[0]["changes"]["conversations"] == 1
