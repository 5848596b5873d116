"""Segments over HTTP: CRUD, the preview (count and newest contacts), and
`GET /contacts?segment_id=` holding the same contacts; permissions, tenant isolation,
bad filters, duplicate names."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient, assert_problem
from tests.support.people import audit_entries, signed_in, two_tenants

CONTACTS = "/api/v1/contacts"
SEGMENTS = "/api/v1/segments"


async def contact(client: AppClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(CONTACTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_segments_end_to_end(client: AppClient) -> None:
    _, owner, _, beta = await two_tenants(client)
    await contact(client, owner, name="Ann", email="ann@x.example", tags=["vip", "news"],
                  attributes={"plan": "gold"}, language="pt_BR")  # fmt: skip
    bob = await contact(client, owner, name="Bob", email="bob@x.example", tags=["vip"],
                        attributes={"plan": "gold"}, language="pt_BR")  # fmt: skip
    await contact(client, owner, name="Cid", email="cid@x.example", tags=["news"],
                  attributes={"plan": "free"}, language="pt_BR")  # fmt: skip
    await contact(client, beta, name="Theirs", email="t@x.example", tags=["vip"],
                  attributes={"plan": "gold"}, language="pt_BR")  # fmt: skip
    await client.post(f"{CONTACTS}/{bob['id']}/opt-out", headers=owner)

    body = {"name": "Gold VIPs", "filter": {"tags_any": ["VIP"], "attributes": {"plan": "gold"},
                                            "language": "pt_BR"}}  # fmt: skip
    created = await client.post(SEGMENTS, json=body, headers=owner)
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["filter"] == {
        "tags_any": ["vip"], "tags_all": [], "attributes": {"plan": "gold"},
        "language": "pt_BR", "opted_out": False, "created_after": None,
        "last_inbound_after": None,
    }  # fmt: skip

    preview = await client.get(f"{SEGMENTS}/{segment['id']}/preview", headers=owner)
    assert preview.status_code == 200, preview.text
    assert preview.json()["count"] == 1  # Bob opted out, Cid is free, Theirs is beta's
    assert [c["name"] for c in preview.json()["items"]] == ["Ann"]
    listed = await client.get(CONTACTS, params={"segment_id": segment["id"]}, headers=owner)
    assert [c["name"] for c in listed.json()["items"]] == ["Ann"]
    narrowed = await client.get(CONTACTS, params={"segment_id": segment["id"], "q": "bob"},
                                headers=owner)  # fmt: skip
    assert narrowed.json()["items"] == []

    both = {"filter": {"tags_all": ["vip", "news"], "opted_out": None}}
    patched = await client.patch(f"{SEGMENTS}/{segment['id']}", json=both, headers=owner)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Gold VIPs"
    preview = await client.get(f"{SEGMENTS}/{segment['id']}/preview", headers=owner)
    assert preview.json()["count"] == 1
    everyone = {"filter": {"opted_out": None}}
    await client.patch(f"{SEGMENTS}/{segment['id']}", json=everyone, headers=owner)
    preview = await client.get(f"{SEGMENTS}/{segment['id']}/preview", params={"limit": 2},
                               headers=owner)  # fmt: skip
    assert preview.json()["count"] == 3
    assert [c["name"] for c in preview.json()["items"]] == ["Cid", "Bob"]

    page = (await client.get(SEGMENTS, headers=owner)).json()
    assert page["total"] == 1 and page["items"][0]["id"] == segment["id"]
    assert (await client.get(f"{SEGMENTS}/{segment['id']}", headers=owner)).status_code == 200
    taken = await client.post(SEGMENTS, json={"name": "Gold VIPs"}, headers=owner)
    assert_problem(taken, 409, "conflict")
    assert (
        await client.post(SEGMENTS, json={"name": "Gold VIPs"}, headers=beta)
    ).status_code == 201

    assert (await client.delete(f"{SEGMENTS}/{segment['id']}", headers=owner)).status_code == 204
    assert_problem(await client.get(f"{SEGMENTS}/{segment['id']}", headers=owner), 404,
                   "not_found")  # fmt: skip
    actions = {e["action"] for e in await audit_entries(client, owner, resource_type="segment")}
    assert actions == {"segment.created", "segment.updated", "segment.deleted"}


async def test_segments_need_permissions_and_stay_in_their_tenant(client: AppClient) -> None:
    acme, owner, _, beta = await two_tenants(client)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    theirs = (await client.post(SEGMENTS, json={"name": "Theirs"}, headers=beta)).json()

    assert_problem(await client.get(SEGMENTS), 401, "unauthorized")
    assert_problem(await client.get(SEGMENTS, headers=member), 403, "forbidden")
    assert_problem(await client.post(SEGMENTS, json={"name": "S"}, headers=member), 403,
                   "forbidden")  # fmt: skip
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/preview")):
        kwargs: dict[str, Any] = {"json": {"name": "x"}} if method == "PATCH" else {}
        url = f"{SEGMENTS}/{theirs['id']}{path}"
        assert_problem(await client.request(method, url, headers=owner, **kwargs), 404,
                       "not_found")  # fmt: skip
    listed = await client.get(CONTACTS, params={"segment_id": theirs["id"]}, headers=owner)
    assert_problem(listed, 404, "not_found")

    bad_filters: list[dict[str, Any]] = [
        {"attributes": {"a.b": 1}},
        {"attributes": {"$where": 1}},
        {"attributes": {"k": {"$gt": 1}}},
        {"tags_any": ["x" * 51]},
        {"tags_all": [f"t{i}" for i in range(21)]},
        {"language": "not a language"},
        {"created_after": "yesterday"},
    ]
    for bad in bad_filters:
        response = await client.post(SEGMENTS, json={"name": "S", "filter": bad}, headers=owner)
        assert_problem(response, 422, "invalid_input")
    assert_problem(await client.post(SEGMENTS, json={"name": ""}, headers=owner), 422,
                   "invalid_input")  # fmt: skip
