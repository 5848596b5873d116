"""Leads over HTTP: create, read, change (the stage machine, racing moves, money, the
history and its cap), delete, list (filters, title search, cursor); `crm:read` /
`crm:write` (401/403), bad input (422 with codes), the audit entries, and another
tenant's leads (404, never listed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.domain.crm.leads import HISTORY_LIMIT, LeadChange, LeadRepository
from api.domain.tenancy import TenantId, tenant_context
from tests.support.app import AppClient, assert_problem
from tests.support.leads import LEADS, change, new_contact, new_lead
from tests.support.people import audit_entries, create_role, signed_in, two_tenants

LEAD_FIELDS = {
    "id", "contact_id", "title", "value", "currency", "stage", "source", "owner_id",
    "department_id", "conversation_id", "notes", "history", "created_by", "created_at",
    "updated_at",
}  # fmt: skip


async def test_a_lead_moves_through_the_pipeline_with_its_history_and_audit(
    client: AppClient,
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    contact_id = await new_contact(client, owner)
    lead = await new_lead(client, owner, contact_id=contact_id, title="  Fleet deal ",
                          value="1234.5", currency="EUR", notes="Met at the fair")  # fmt: skip
    assert set(lead) == LEAD_FIELDS
    assert lead["title"] == "Fleet deal" and lead["value"] == "1234.50"
    assert lead["currency"] == "EUR" and lead["stage"] == "new" and lead["source"] == "manual"
    assert lead["created_by"] == acme.owner.id and lead["owner_id"] is None
    assert [h["field"] for h in lead["history"]] == ["stage"]

    for stage in ("contacted", "qualified", "proposal"):
        lead = await change(client, owner, lead["id"], stage=stage)
    lead = await change(client, owner, lead["id"], value="2000", currency="EUR", notes=None)
    lead = await change(client, owner, lead["id"], stage="won")
    assert lead["stage"] == "won" and lead["value"] == "2000.00" and lead["notes"] is None
    changes = [(h["field"], h["from"], h["to"]) for h in lead["history"][1:]]
    assert changes == [
        ("stage", "new", "contacted"), ("stage", "contacted", "qualified"),
        ("stage", "qualified", "proposal"), ("notes", "Met at the fair", None),
        ("value", "1234.50 EUR", "2000.00 EUR"), ("stage", "proposal", "won"),
    ]  # fmt: skip
    assert all(h["actor_id"] == acme.owner.id for h in lead["history"])

    final = await client.patch(f"{LEADS}/{lead['id']}", json={"stage": "lost"}, headers=owner)
    problem = assert_problem(final, 409, "lead_stage_conflict")
    assert problem["stage"] == "won"
    same = await client.patch(f"{LEADS}/{lead['id']}", json={"stage": "won"}, headers=owner)
    assert same.status_code == 200 and len(same.json()["history"]) == len(lead["history"])
    read = await client.get(f"{LEADS}/{lead['id']}", headers=owner)
    assert read.status_code == 200 and read.json() == lead

    entries = await audit_entries(client, owner, resource_type="lead")
    assert sorted(e["action"] for e in entries) == ["lead.created"] + ["lead.updated"] * 5
    updated = [e for e in entries if e["action"] == "lead.updated"]
    assert {"stage": {"from": "proposal", "to": "won"}} in [e["changes"] for e in updated]

    assert (await client.delete(f"{LEADS}/{lead['id']}", headers=owner)).status_code == 204
    gone = await client.get(f"{LEADS}/{lead['id']}", headers=owner)
    assert_problem(gone, 404, "not_found")
    deleted = await audit_entries(client, owner, action="lead.deleted")
    assert [e["resource_id"] for e in deleted] == [lead["id"]]


async def test_lost_leads_reopen_and_illegal_moves_are_409(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    lead = await new_lead(client, owner, contact_id=await new_contact(client, owner), title="X")
    skip = await client.patch(f"{LEADS}/{lead['id']}", json={"stage": "won"}, headers=owner)
    assert_problem(skip, 409, "lead_stage_conflict")
    lost = await change(client, owner, lead["id"], stage="lost")
    assert lost["stage"] == "lost"
    assert (await change(client, owner, lead["id"], stage="new"))["stage"] == "new"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"value": "-5", "currency": "EUR"}, "negative_money_value"),
        ({"value": "5.123", "currency": "EUR"}, "money_too_precise"),
        ({"value": "5.5", "currency": "JPY"}, "money_too_precise"),
        ({"value": "1e3", "currency": "EUR"}, "invalid_money_value"),
        ({"value": "5", "currency": "EUX"}, "unknown_currency"),
        ({"value": "5"}, "currency_required"),
        ({"currency": "EUR"}, "currency_required"),
        ({"value": 5, "currency": "EUR"}, "invalid_input"),
        ({"title": "  "}, "invalid_input"),
        ({"owner_id": "0123456789abcdef01234567"}, "unknown_owner"),
        ({"department_id": "0123456789abcdef01234567"}, "unknown_department"),
        ({"stage": "closed"}, "invalid_input"),
        ({"source": "x" * 51}, "invalid_input"),
        ({"notes": "n" * 5001}, "invalid_input"),
        ({"colour": "red"}, "invalid_input"),
    ],
)
async def test_bad_input_is_422_with_its_code(
    client: AppClient, body: dict[str, Any], code: str
) -> None:
    _, owner, _, _ = await two_tenants(client)
    contact_id = await new_contact(client, owner)
    created = await client.post(
        LEADS, json={"contact_id": contact_id, "title": "T", **body}, headers=owner
    )
    assert_problem(created, 422, code)
    lead = await new_lead(client, owner, contact_id=contact_id, title="T")
    changed = await client.patch(f"{LEADS}/{lead['id']}", json=body, headers=owner)
    assert_problem(changed, 422, code)


async def test_the_contact_must_exist_in_the_tenant(client: AppClient) -> None:
    _, owner, _, beta = await two_tenants(client)
    theirs = await new_contact(client, beta)
    for contact_id in (theirs, "0123456789abcdef01234567", "nope"):
        response = await client.post(LEADS, json={"contact_id": contact_id, "title": "T"},
                                      headers=owner)  # fmt: skip
        assert_problem(response, 422, "unknown_contact")
    deleted = await new_contact(client, owner, "+14155550999")
    assert (await client.delete(f"/api/v1/contacts/{deleted}", headers=owner)).is_success
    response = await client.post(LEADS, json={"contact_id": deleted, "title": "T"}, headers=owner)
    assert_problem(response, 422, "unknown_contact")
    beta_owner = (await client.get("/api/v1/auth/me", headers=beta)).json()["id"]
    response = await client.post(LEADS, headers=owner, json={
        "contact_id": await new_contact(client, owner, "+14155550998"), "title": "T",
        "owner_id": beta_owner,
    })  # fmt: skip
    assert_problem(response, 422, "unknown_owner")


async def test_the_list_filters_searches_and_pages(client: AppClient) -> None:
    acme, owner, _, beta = await two_tenants(client)
    ann = await new_contact(client, owner)
    bob = await new_contact(client, owner, "+14155550124", "Bob")
    member, _ = await signed_in(client, acme, owner, "sam@example.com", roles=["agent"])
    made = [
        await new_lead(client, owner, contact_id=ann, title="Fleet of VANS", source="Web"),
        await new_lead(client, owner, contact_id=bob, title="Vans for Bob", owner_id=member["id"]),
        await new_lead(client, owner, contact_id=ann, title="Office chairs"),
    ]
    await change(client, owner, made[2]["id"], stage="contacted")
    await new_lead(client, beta, contact_id=await new_contact(client, beta), title="Beta vans")

    async def titles(**params: Any) -> list[str]:
        response = await client.get(LEADS, params=params, headers=owner)
        assert response.status_code == 200, response.text
        return [i["title"] for i in response.json()["items"]]

    assert await titles() == ["Office chairs", "Vans for Bob", "Fleet of VANS"]
    assert await titles(q="vans") == ["Vans for Bob", "Fleet of VANS"]
    assert await titles(q="(") == []
    assert await titles(stage="contacted") == ["Office chairs"]
    assert await titles(owner_id=member["id"]) == ["Vans for Bob"]
    assert await titles(contact_id=ann) == ["Office chairs", "Fleet of VANS"]
    assert await titles(source="web") == ["Fleet of VANS"]
    created = datetime.fromisoformat(made[1]["created_at"])
    assert await titles(created_from=created.isoformat()) == ["Office chairs", "Vans for Bob"]
    assert await titles(created_to=created.isoformat()) == ["Fleet of VANS"]
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await titles(created_from=later) == []

    first = (await client.get(LEADS, params={"limit": 2}, headers=owner)).json()
    assert [i["title"] for i in first["items"]] == ["Office chairs", "Vans for Bob"]
    rest = await client.get(LEADS, params={"limit": 2, "cursor": first["next_cursor"]},
                            headers=owner)  # fmt: skip
    assert [i["title"] for i in rest.json()["items"]] == ["Fleet of VANS"]
    assert rest.json()["next_cursor"] is None
    narrowed = await client.get(
        LEADS, params={"limit": 1, "cursor": first["next_cursor"], "created_to": later},
        headers=owner,
    )  # fmt: skip
    assert [i["title"] for i in narrowed.json()["items"]] == ["Fleet of VANS"]

    for params in ({"cursor": "bogus"}, {"limit": 0}, {"limit": 101}, {"stage": "x"},
                   {"created_from": later, "created_to": made[0]["created_at"]}):  # fmt: skip
        assert (await client.get(LEADS, params=params, headers=owner)).status_code == 422


async def test_reading_needs_crm_read_and_changing_crm_write(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    lead = await new_lead(client, owner, contact_id=await new_contact(client, owner), title="T")
    _, member = await signed_in(client, acme, owner, "mo@example.com", roles=["member"])
    reader_role = await create_role(client, owner, "lead readers", ["crm:read"])
    _, reader = await signed_in(client, acme, owner, "rd@example.com", roles=[reader_role["name"]])
    url = f"{LEADS}/{lead['id']}"
    body = {"contact_id": lead["contact_id"], "title": "T"}
    reads = [("GET", LEADS, None), ("GET", url, None)]
    writes = [("POST", LEADS, body), ("PATCH", url, {"title": "U"}), ("DELETE", url, None)]
    for method, path, json in reads + writes:
        anonymous = await client.request(method, path, json=json,
                                         headers={"X-Tenant-ID": acme.tenant.id or ""})  # fmt: skip
        assert_problem(anonymous, 401, "unauthorized")
        assert_problem(await client.request(method, path, json=json, headers=member), 403,
                       "forbidden")  # fmt: skip
    for method, path, json in reads:
        assert (await client.request(method, path, json=json, headers=reader)).status_code == 200
    for method, path, json in writes:
        assert_problem(await client.request(method, path, json=json, headers=reader), 403,
                       "forbidden")  # fmt: skip


async def test_another_tenants_leads_are_404_and_never_listed(client: AppClient) -> None:
    _, owner, _, beta = await two_tenants(client)
    lead = await new_lead(client, owner, contact_id=await new_contact(client, owner), title="T")
    url = f"{LEADS}/{lead['id']}"
    assert_problem(await client.get(url, headers=beta), 404, "not_found")
    assert_problem(await client.patch(url, json={"title": "Mine"}, headers=beta), 404,
                   "not_found")  # fmt: skip
    assert_problem(await client.patch(url, json={"stage": "lost"}, headers=beta), 404,
                   "not_found")  # fmt: skip
    assert_problem(await client.delete(url, headers=beta), 404, "not_found")
    assert (await client.get(LEADS, headers=beta)).json()["items"] == []
    assert (await client.get(url, headers=owner)).json() == lead  # untouched
    assert_problem(await client.get(f"{LEADS}/not-an-id", headers=owner), 404, "not_found")


async def test_racing_stage_moves_apply_one_and_refuse_the_other(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    lead = await new_lead(client, owner, contact_id=await new_contact(client, owner), title="T",
                          stage="proposal")  # fmt: skip
    url = f"{LEADS}/{lead['id']}"
    won, lost = await asyncio.gather(
        client.patch(url, json={"stage": "won"}, headers=owner),
        client.patch(url, json={"stage": "lost"}, headers=owner),
    )
    assert sorted([won.status_code, lost.status_code]) == [200, 409]
    final = (await client.get(url, headers=owner)).json()
    winner = won if won.status_code == 200 else lost
    assert final["stage"] == winner.json()["stage"]
    assert [h["to"] for h in final["history"]] == ["proposal", final["stage"]]


async def test_the_history_keeps_the_newest_entries(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    lead = await new_lead(client, owner, contact_id=await new_contact(client, owner), title="T")
    at = datetime.now(UTC)
    entries = [LeadChange(at=at, actor_id="a", field="notes", to_value=str(n)) for n in range(250)]
    with tenant_context(TenantId(acme.tenant.id or "")):
        leads: LeadRepository = client.container.resolve(LeadRepository)
        stored = await leads.replace_if_unchanged(lead["id"], 0, {"notes": "249"}, entries)
        assert await leads.replace_if_unchanged(lead["id"], 0, {"notes": "x"}, []) is None
    assert stored is not None and len(stored.history) == HISTORY_LIMIT == 200
    assert [h.to_value for h in stored.history] == [str(n) for n in range(50, 250)]
