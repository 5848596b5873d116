"""Contacts over HTTP: create (numbers to E.164 in the profile's country), read, change,
soft delete, list (search, tag, consent, cursor), opt out and in, stats; `contacts:read`
/ `contacts:write` (owner, admin, agent; not member), tenant isolation, bad input."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient, assert_problem
from tests.support.people import audit_entries, signed_in, two_tenants

CONTACTS = "/api/v1/contacts"
PROFILE = "/api/v1/tenant/profile"
CONTACT_FIELDS = {
    "id", "name", "phone", "wa_id", "bsuid", "username", "email", "language", "attributes",
    "tags", "opted_out", "opted_out_at", "opt_out_source", "opted_in_at", "opt_in_source",
    "source", "channel_id", "channels", "channel_types", "last_inbound_at", "created_at",
    "updated_at",
}  # fmt: skip


async def create(client: AppClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(CONTACTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def listed(client: AppClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get(CONTACTS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [c["name"] for c in response.json()["items"]]


async def test_contacts_end_to_end(client: AppClient) -> None:
    _, owner, _, beta = await two_tenants(client)
    await client.put(PROFILE, json={"default_country": "GB"}, headers=owner)

    ann = await create(
        client, owner, name="Ann", phone="020 7946 0958", email="ann@example.com",
        language="en_GB", tags=[" VIP ", "vip", "Newsletter"],
        attributes={"plan": "gold", "seats": 3, "trial": False, "gone": None},
    )  # fmt: skip
    assert set(ann) == CONTACT_FIELDS
    assert ann["channels"] == [] and ann["channel_types"] == []  # never wrote
    assert ann["phone"] == "+442079460958" and ann["wa_id"] is None
    assert ann["tags"] == ["vip", "newsletter"] and ann["source"] == "manual"
    assert ann["attributes"] == {"plan": "gold", "seats": 3, "trial": False}
    assert ann["opted_out"] is False and ann["channel_id"] is None
    await create(client, owner, name="Bob", phone="+1 650 555 1234", tags=["vip"], source="api")

    # Unique per tenant, whatever the spelling; another tenant may hold the same number.
    duplicate = await client.post(CONTACTS, json={"phone": "+44 20 7946 0958"}, headers=owner)
    assert assert_problem(duplicate, 409, "duplicate_contact")["existing_id"] == ann["id"]
    assert (await create(client, beta, phone="+442079460958"))["phone"] == "+442079460958"

    read = await client.get(f"{CONTACTS}/{ann['id']}", headers=owner)
    assert read.status_code == 200 and read.json() == ann

    patched = await client.patch(
        f"{CONTACTS}/{ann['id']}",
        json={"name": "Ann Lee", "email": None, "attributes": {"plan": None, "city": "Leeds"},
              "tags": ["customer"]},
        headers=owner,
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    ann = patched.json()
    assert ann["name"] == "Ann Lee" and ann["email"] is None and ann["tags"] == ["customer"]
    assert ann["attributes"] == {"seats": 3, "trial": False, "city": "Leeds"}
    taken = await client.patch(f"{CONTACTS}/{ann['id']}", json={"phone": "+16505551234"},
                               headers=owner)  # fmt: skip
    assert_problem(taken, 409, "duplicate_contact")

    assert await listed(client, owner) == ["Bob", "Ann Lee"]
    assert await listed(client, owner, q="ann l") == ["Ann Lee"]
    assert await listed(client, owner, q="6505551") == ["Bob"]
    assert await listed(client, owner, tag="VIP") == ["Bob"]

    out = await client.post(f"{CONTACTS}/{ann['id']}/opt-out", headers=owner)
    assert out.status_code == 200, out.text
    assert out.json()["opted_out"] is True and out.json()["opt_out_source"] == "manual"
    again = await client.post(f"{CONTACTS}/{ann['id']}/opt-out", json={"source": "api"},
                              headers=owner)  # fmt: skip
    assert again.json()["opt_out_source"] == "manual"  # the first opt-out is kept
    assert again.json()["opted_out_at"] == out.json()["opted_out_at"]
    assert await listed(client, owner, opted_out="true") == ["Ann Lee"]
    assert await listed(client, owner, opted_out="false") == ["Bob"]

    stats = (await client.get(f"{CONTACTS}/stats", headers=owner)).json()
    assert stats == {"total": 2, "opted_out": 1, "by_source": {"manual": 1, "api": 1},
                     "by_tag": {"customer": 1, "vip": 1}}  # fmt: skip

    back = await client.post(f"{CONTACTS}/{ann['id']}/opt-in", json={"source": "api"},
                             headers=owner)  # fmt: skip
    assert back.json()["opted_out"] is False and back.json()["opt_in_source"] == "api"
    assert back.json()["opted_out_at"] is None and back.json()["opted_in_at"] is not None

    # Soft delete: gone from reads, lists and stats; the number is free again.
    deleted = await client.delete(f"{CONTACTS}/{ann['id']}", headers=owner)
    assert deleted.status_code == 204
    assert_problem(await client.get(f"{CONTACTS}/{ann['id']}", headers=owner), 404, "not_found")
    assert_problem(await client.delete(f"{CONTACTS}/{ann['id']}", headers=owner), 404,
                   "not_found")  # fmt: skip
    assert await listed(client, owner) == ["Bob"]
    assert (await client.get(f"{CONTACTS}/stats", headers=owner)).json()["total"] == 1
    assert (await create(client, owner, phone="02079460958"))["id"] != ann["id"]

    actions = [e["action"] for e in await audit_entries(client, owner, resource_type="contact")]
    for action in ("contact.created", "contact.updated", "contact.opted_out",
                   "contact.opted_in", "contact.deleted"):  # fmt: skip
        assert action in actions
    assert actions.count("contact.opted_out") == 1


async def test_contacts_page_by_cursor(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    for n in range(5):
        await create(client, owner, name=f"C{n}", email=f"c{n}@example.com")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(CONTACTS, params=params, headers=owner)).json()
        seen += [c["name"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["C4", "C3", "C2", "C1", "C0"]
    for params in ({"cursor": "not-one"}, {"limit": 101}, {"limit": 0}):
        response = await client.get(CONTACTS, params=params, headers=owner)
        assert_problem(response, 422, "invalid_input")


async def test_contacts_need_permissions_and_stay_in_their_tenant(client: AppClient) -> None:
    acme, owner, _, beta = await two_tenants(client)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    theirs = await create(client, beta, name="Theirs", phone="+16505550000")
    mine = await create(client, agent, name="Mine", phone="+16505550000")  # agents write

    assert_problem(await client.get(CONTACTS), 401, "unauthorized")
    assert_problem(await client.get(CONTACTS, headers=member), 403, "forbidden")
    assert_problem(await client.post(CONTACTS, json={"phone": "+16505550001"}, headers=member),
                   403, "forbidden")  # fmt: skip
    assert_problem(await client.get(f"{CONTACTS}/stats", headers=member), 403, "forbidden")
    assert await listed(client, agent) == ["Mine"]
    for method, path in (
        ("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/opt-out"), ("POST", "/opt-in"),
    ):  # fmt: skip
        kwargs: dict[str, Any] = {"json": {"name": "x"}} if method == "PATCH" else {}
        url = f"{CONTACTS}/{theirs['id']}{path}"
        response = await client.request(method, url, headers=owner, **kwargs)
        assert_problem(response, 404, "not_found")
    assert_problem(await client.get(f"{CONTACTS}/not-an-id", headers=owner), 404, "not_found")
    assert (await client.get(f"{CONTACTS}/{theirs['id']}", headers=beta)).json() == theirs
    assert (await client.get(f"{CONTACTS}/{mine['id']}", headers=agent)).status_code == 200


async def test_bad_contacts_are_refused(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    # National numbers need the profile's default country.
    assert_problem(await client.post(CONTACTS, json={"phone": "020 7946 0958"}, headers=owner),
                   422, "invalid_phone")  # fmt: skip
    for phone in ("+1 555", "hello", "+99912345678"):
        response = await client.post(CONTACTS, json={"phone": phone}, headers=owner)
        assert assert_problem(response, 422, "invalid_phone")["errors"][0]["loc"] == [
            "body", "phone",
        ]  # fmt: skip
    too_many = {f"k{i}": i for i in range(51)}
    bad_bodies: list[dict[str, Any]] = [
        {"name": "No address"},
        {"email": "not-an-email"},
        {"email": "a@example.com", "attributes": too_many},
        {"email": "a@example.com", "attributes": {"bad key": 1}},
        {"email": "a@example.com", "attributes": {"k": "x" * 501}},
        {"email": "a@example.com", "attributes": {"k": {"nested": 1}}},
        {"email": "a@example.com", "attributes": {"k": [1, 2]}},
        {"email": "a@example.com", "tags": ["x" * 51]},
        {"email": "a@example.com", "tags": [f"t{i}" for i in range(51)]},
        {"email": "a@example.com", "language": "english please"},
        {"email": "a@example.com", "source": "inbound"},
    ]
    for body in bad_bodies:
        response = await client.post(CONTACTS, json=body, headers=owner)
        assert_problem(response, 422, "invalid_input")
    contact = await create(client, owner, email="a@example.com")
    patched = await client.patch(f"{CONTACTS}/{contact['id']}", json={"email": None},
                                 headers=owner)  # fmt: skip
    assert_problem(patched, 422, "invalid_input")
    bad_source = await client.post(f"{CONTACTS}/{contact['id']}/opt-out",
                                   json={"source": "keyword"}, headers=owner)  # fmt: skip
    assert_problem(bad_source, 422, "invalid_input")
    assert (await client.get(f"{CONTACTS}/stats", headers=owner)).json()["total"] == 1
