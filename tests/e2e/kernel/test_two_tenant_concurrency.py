"""Two tenants working at once (#17 point 3): their owners create, read, change and delete
records of nine kinds concurrently (interleaved on one app and one database), then a sweep
proves nothing crossed: each tenant reads, lists, changes and deletes only its own
records, another tenant's are 404 and unlisted, and every stored document carries the
tenant that created it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient
from tests.support.files import png_bytes, uploaded
from tests.support.people import two_tenants

API = "/api/v1"
PER_KIND = 5  # records of each kind per tenant, all created at once


@dataclass(frozen=True)
class Kind:
    name: str
    path: str
    collection: str
    create: Callable[[int, str, str], dict[str, Any]]  # (n, subdomain, a contact id)
    change: tuple[str, Callable[[int], dict[str, Any]]]  # (method, body of record n)
    deletable: bool = True


KINDS = [
    Kind("roles", "roles", "roles",
         lambda n, s, c: {"name": f"role {n}", "permissions": ["files:read"]},
         ("PUT", lambda n: {"description": "changed"})),
    Kind("users", "users", "users",
         lambda n, s, c: {"email": f"user{n}@{s}.example.com", "full_name": f"User {n}"},
         ("PUT", lambda n: {"full_name": "Changed"})),
    Kind("contacts", "contacts", "contacts",
         lambda n, s, c: {"phone": f"+4915{n + 1:09d}", "name": f"Contact {n}"},
         ("PATCH", lambda n: {"name": "Changed"})),
    Kind("teams", "teams", "teams", lambda n, s, c: {"name": f"team {n}"},
         ("PATCH", lambda n: {"name": f"renamed {n}"})),
    Kind("departments", "departments", "departments", lambda n, s, c: {"name": f"dept {n}"},
         ("PATCH", lambda n: {"sla": {"first_response_minutes": 30}})),
    Kind("leads", "leads", "crm_leads",
         lambda n, s, c: {"contact_id": c, "title": f"Lead {n}", "value": "10.00",
                          "currency": "EUR"},
         ("PATCH", lambda n: {"title": "Changed"})),
    Kind("tickets", "tickets", "crm_tickets",
         lambda n, s, c: {"contact_id": c, "subject": f"Ticket {n}"},
         ("PATCH", lambda n: {"priority": "high"}), deletable=False),
    Kind("meetings", "meetings", "crm_meetings",
         lambda n, s, c: {"contact_id": c, "title": f"Meeting {n}",
                          "starts_at": f"2027-01-{n + 1:02d}T10:00:00Z",
                          "ends_at": f"2027-01-{n + 1:02d}T11:00:00Z"},
         ("PATCH", lambda n: {"title": "Changed"}), deletable=False),
]  # fmt: skip


@dataclass
class Made:
    tenant: str
    kind: str
    id: str
    deleted: bool = False


async def work(
    client: AppClient, headers: dict[str, str], subdomain: str, contact: str, kind: Kind, n: int
) -> Made:
    """Create, read, change and (every other one) delete one record."""
    url = f"{API}/{kind.path}"
    created = await client.post(url, json=kind.create(n, subdomain, contact), headers=headers)
    assert created.status_code == 201, (kind.name, created.text)
    made = Made(headers["X-Tenant-ID"], kind.name, created.json()["id"])
    item = f"{url}/{made.id}"
    assert (await client.get(item, headers=headers)).status_code == 200
    method, body = kind.change
    changed = await client.request(method, item, json=body(n), headers=headers)
    assert changed.status_code == 200, (kind.name, changed.text)
    if kind.deletable and n % 2 == 0:
        deleted = await client.delete(item, headers=headers)
        assert deleted.status_code == 204, (kind.name, deleted.text)
        made.deleted = True
    return made


async def file_work(client: AppClient, headers: dict[str, str], n: int) -> Made:
    stored = await uploaded(client, headers, png_bytes(100 + n), f"f{n}.png")
    made = Made(headers["X-Tenant-ID"], "files", stored["id"])
    if n % 2 == 0:
        assert (await client.delete(f"{API}/files/{made.id}", headers=headers)).status_code == 204
        made.deleted = True
    return made


async def test_two_tenants_at_once_never_touch_each_others_records(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, acme_owner, beta, beta_owner = await two_tenants(client)
    sides = [(acme_owner, "acme"), (beta_owner, "beta")]
    contacts = []
    for headers, _ in sides:
        contact = await client.post(
            f"{API}/contacts", json={"phone": "+4917000000001", "name": "Base"}, headers=headers
        )
        assert contact.status_code == 201, contact.text
        contacts.append(contact.json()["id"])

    flows = [
        work(client, headers, subdomain, contact, kind, n)
        for (headers, subdomain), contact in zip(sides, contacts, strict=True)
        for kind in KINDS
        for n in range(PER_KIND)
    ] + [file_work(client, headers, n) for headers, _ in sides for n in range(PER_KIND)]
    made: list[Made] = list(await asyncio.gather(*flows))

    by_tenant = {acme.tenant.id: acme_owner, beta.tenant.id: beta_owner}
    kinds = {k.name: k for k in KINDS}
    paths = {**{k.name: k.path for k in KINDS}, "files": "files"}
    collections = {**{k.name: k.collection for k in KINDS}, "files": "files"}
    for record in made:
        own = by_tenant[record.tenant]
        other = next(h for t, h in by_tenant.items() if t != record.tenant)
        item = f"{API}/{paths[record.kind]}/{record.id}"
        expected = 404 if record.deleted else 200
        assert (await client.get(item, headers=own)).status_code == expected, record
        # Another tenant can neither read, change nor delete it.
        assert (await client.get(item, headers=other)).status_code == 404, record
        if record.kind in kinds:
            method, body = kinds[record.kind].change
            crossing = await client.request(method, item, json=body(99), headers=other)
            assert crossing.status_code == 404, (record, crossing.text)
        if record.kind not in kinds or kinds[record.kind].deletable:
            assert (await client.delete(item, headers=other)).status_code == 404, record
        assert (await client.get(item, headers=own)).status_code == expected, record
        raw = await mongo_client[db_name][collections[record.kind]].find_one(
            {"_id": ObjectId(record.id)}
        )
        if record.deleted:  # gone, or (contacts) kept as deleted, in its own tenant
            assert raw is None or (raw["tenant_id"] == record.tenant and raw["deleted_at"])
        else:
            assert raw is not None and raw["tenant_id"] == record.tenant, record

    # Lists: each tenant's lists hold its own records and none of the other's.
    for kind in [*KINDS]:
        for tenant, headers in by_tenant.items():
            listed = await client.get(f"{API}/{kind.path}", headers=headers)
            assert listed.status_code == 200, listed.text
            ids = {item["id"] for item in listed.json()["items"]}
            mine = {m.id for m in made if m.kind == kind.name and m.tenant == tenant}
            theirs = {m.id for m in made if m.kind == kind.name and m.tenant != tenant}
            alive = {m.id for m in made if m.kind == kind.name and not m.deleted}
            assert mine & alive <= ids, (kind.name, tenant)
            assert not ids & theirs, (kind.name, tenant)
