"""Contact exports over HTTP: the job writes the exact CSV (columns, attributes, formula
guard) into the tenant's storage and the signed link downloads it; the filters of
`GET /contacts`; `contacts:export` (owner and admin; not agent or member); tenant
isolation; bad input; a failing storage reported `failed` with a reason; expiry and the
sweep that deletes expired files; a run's claim and lease."""

from __future__ import annotations

import asyncio
import csv
import io
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

import punq
from bson import ObjectId

from api.common.clock import utcnow
from api.domain.errors import ParleyError
from api.domain.files.storage import StorageConfig, StorageConfigRepository, StorageProvider
from api.domain.messaging.contact_exports import (
    ContactExport,
    ContactExportRepository,
    ExportStatus,
)
from api.domain.messaging.contacts import ContactQuery
from api.infrastructure.persistence.files.storage import FileDocument
from api.infrastructure.persistence.messaging.contact_exports import ContactExportDocument
from api.usecases.messaging.export_contacts import RunContactExport, SweepExpiredExports
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.app import AppClient, assert_problem
from tests.support.database import as_tenant
from tests.support.files import fetch
from tests.support.people import audit_entries, signed_in, two_tenants

CONTACTS = "/api/v1/contacts"
EXPORTS = "/api/v1/contacts/exports"
SEGMENTS = "/api/v1/segments"
EXPORT_FIELDS = {
    "id", "status", "total_rows", "url", "url_expires_at", "reason", "filters",
    "created_at", "finished_at", "expires_at",
}  # fmt: skip
HEADER = "id,name,phone,wa_id,email,language,tags,opted_out,opted_out_at,source,created_at"


async def create(client: AppClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(CONTACTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def requested(
    client: AppClient, headers: dict[str, str], body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post(EXPORTS, json=body, headers=headers)
    assert response.status_code == 202, response.text
    export: dict[str, Any] = response.json()
    return export


async def finished(
    client: AppClient,
    container: punq.Container,
    tenant: CreatedTenant,
    headers: dict[str, str],
    export_id: str,
) -> dict[str, Any]:
    """The export once its job has run: run here, unless the session's worker took it
    first (then its result is awaited)."""
    with as_tenant(tenant.tenant), suppress(ParleyError):  # a failing one: its state says why
        await container.resolve(RunContactExport).execute(export_id)
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        response = await client.get(f"{EXPORTS}/{export_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed"):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.1)


async def exported_csv(
    client: AppClient,
    container: punq.Container,
    tenant: CreatedTenant,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    export = await requested(client, headers, body)
    done = await finished(client, container, tenant, headers, export["id"])
    assert done["status"] == "done", done
    downloaded = await fetch(client, done["url"])
    assert downloaded.status_code == 200, downloaded.text
    return done, downloaded.content.decode("utf-8")


def ids_in(text: str) -> set[str]:
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    return {row["id"] for row in rows}


def when(value: str | None) -> str:
    return "" if value is None else datetime.fromisoformat(value).isoformat()


async def test_export_writes_the_exact_csv_and_the_signed_link_downloads_it(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    ann = await create(
        client, owner, name="Ann", phone="+442079460958", email="ann@example.com",
        language="en_GB", tags=["vip", "newsletter"],
        attributes={"plan": "gold", "seats": 3, "trial": False},
    )  # fmt: skip
    bob = await create(
        client, owner, name='=HYPERLINK("http://evil.example","x")', phone="+16505551234",
        tags=["vip"], attributes={"city": "@Leeds", "note": "-2+3"}, source="api",
    )  # fmt: skip
    cy = await create(client, owner, name="Cy, \"the\" third", email="cy@example.com",
                      attributes={"seats": -4})  # fmt: skip
    out = await client.post(f"{CONTACTS}/{cy['id']}/opt-out", headers=owner)
    cy = out.json()
    gone = await create(client, owner, name="Gone", email="gone@example.com",
                        attributes={"secret": "x"})  # fmt: skip
    assert (await client.delete(f"{CONTACTS}/{gone['id']}", headers=owner)).status_code == 204
    theirs = await create(client, beta_owner, name="Theirs", email="t@example.com",
                          attributes={"theirs": "y"})  # fmt: skip

    export = await requested(client, owner)
    assert set(export) == EXPORT_FIELDS
    assert export["status"] == "queued" and export["total_rows"] == 0
    assert export["url"] is None and export["finished_at"] is None
    assert export["filters"] == {"q": None, "tag": None, "segment_id": None, "opted_out": None}
    done = await finished(client, container, acme, owner, export["id"])
    assert done["status"] == "done" and done["total_rows"] == 3 and done["reason"] is None
    assert done["url"] and done["url_expires_at"] and done["finished_at"]
    expires = datetime.fromisoformat(done["expires_at"])
    finished_at = datetime.fromisoformat(done["finished_at"])
    assert expires - finished_at == timedelta(hours=24)

    downloaded = await fetch(client, done["url"])  # no token, no tenant header
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.headers["content-type"].startswith("text/csv")
    text = downloaded.content.decode("utf-8")
    rows = [
        HEADER + ",attribute:city,attribute:note,attribute:plan,attribute:seats,attribute:trial",
        f"{ann['id']},Ann,+442079460958,,ann@example.com,en_GB,vip;newsletter,false,,manual,"
        f"{when(ann['created_at'])},,,gold,3,false",
        f'{bob["id"]},"\'=HYPERLINK(""http://evil.example"",""x"")",+16505551234,,,,'
        f"vip,false,,api,{when(bob['created_at'])},'@Leeds,'-2+3,,,",
        f'{cy["id"]},"Cy, ""the"" third",,,cy@example.com,,,true,'
        f"{when(cy['opted_out_at'])},manual,{when(cy['created_at'])},,,,-4,",
    ]
    # In id order (ids grow with creation); the deleted contact and the other tenant's
    # contact and attribute keys are not in it.
    assert text == "\ufeff" + "".join(row + "\r\n" for row in rows)
    assert gone["id"] not in text and theirs["id"] not in text and "theirs" not in text
    assert when(ann["created_at"]).endswith("+00:00")

    [entry] = await audit_entries(client, owner, action="contact.export_requested")
    assert entry["resource_id"] == export["id"]
    # Another tenant's export is 404; its own owner reads it.
    assert_problem(await client.get(f"{EXPORTS}/{export['id']}", headers=beta_owner), 404,
                   "not_found")  # fmt: skip
    _, beta_text = await exported_csv(client, container, beta, beta_owner)
    assert ids_in(beta_text) == {theirs["id"]} and "attribute:theirs" in beta_text


async def test_export_filters_are_those_of_the_list(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    ann = await create(client, owner, name="Ann Lee", email="ann@example.com", tags=["vip"],
                       attributes={"plan": "gold"})  # fmt: skip
    bob = await create(client, owner, name="Bob", phone="+16505551234", tags=["vip"],
                       attributes={"plan": "free"})  # fmt: skip
    cy = await create(client, owner, name="Cy", email="cy@example.com")
    await client.post(f"{CONTACTS}/{bob['id']}/opt-out", headers=owner)
    segment = await client.post(
        SEGMENTS, json={"name": "Gold", "filter": {"attributes": {"plan": "gold"}}},
        headers=owner,
    )  # fmt: skip
    assert segment.status_code == 201, segment.text
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"q": "ann l"}, {ann["id"]}),
        ({"q": "6505551"}, {bob["id"]}),
        ({"tag": "VIP"}, {ann["id"], bob["id"]}),
        ({"opted_out": True}, {bob["id"]}),
        ({"opted_out": False}, {ann["id"], cy["id"]}),
        ({"segment_id": segment.json()["id"]}, {ann["id"]}),
        ({"tag": "vip", "opted_out": False}, {ann["id"]}),
        ({"tag": "nobody"}, set()),
    ]
    for body, expected in cases:
        done, text = await exported_csv(client, container, acme, owner, body)
        assert ids_in(text) == expected, body
        assert done["total_rows"] == len(expected)
        shown = {k: v for k, v in done["filters"].items() if v is not None}
        assert shown == {**body, **({"tag": body["tag"].lower()} if "tag" in body else {})}
    # No match: the header row only.
    _, empty = await exported_csv(client, container, acme, owner, {"tag": "nobody"})
    assert empty == "\ufeff" + HEADER + "\r\n"
    # Another tenant's segment is 404 and nothing is queued.
    refused = await client.post(EXPORTS, json={"segment_id": segment.json()["id"]},
                                headers=beta_owner)  # fmt: skip
    assert_problem(refused, 404, "not_found")
    assert await ContactExportDocument.find({"tenant_id": beta.tenant.id}).count() == 0


async def test_export_needs_contacts_export(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    export = await requested(client, owner)
    assert_problem(await client.post(EXPORTS), 401, "unauthorized")
    assert_problem(await client.get(f"{EXPORTS}/{export['id']}"), 401, "unauthorized")
    # Agents read and write contacts but may not carry the whole list away; members
    # have no contact permission at all; admins may.
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, admin = await signed_in(client, acme, owner, "al@acme.example.com", roles=["admin"])
    for headers in (agent, member):
        refused = assert_problem(await client.post(EXPORTS, headers=headers), 403, "forbidden")
        assert "contacts:export" in refused["detail"]
        assert_problem(await client.get(f"{EXPORTS}/{export['id']}", headers=headers), 403,
                       "forbidden")  # fmt: skip
    assert (await client.get(f"{EXPORTS}/{export['id']}", headers=admin)).status_code == 200
    assert (await client.post(EXPORTS, headers=admin)).status_code == 202
    me = (await client.get("/api/v1/auth/me", headers=admin)).json()
    assert "contacts:export" in me["permissions"]


async def test_export_bad_input_and_unknown_ids(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    for body in ({"opted_out": "maybe"}, {"tag": "x" * 51}, {"segment_id": ""},
                 {"unknown": 1}, {"tag": "   "}):  # fmt: skip
        response = await client.post(EXPORTS, json=body, headers=owner)
        assert_problem(response, 422, "invalid_input")
    for unknown in (str(ObjectId()), "not-an-id"):
        assert_problem(await client.get(f"{EXPORTS}/{unknown}", headers=owner), 404,
                       "not_found")  # fmt: skip
    assert_problem(await client.post(EXPORTS, json={"segment_id": str(ObjectId())},
                                     headers=owner), 404, "not_found")  # fmt: skip


async def test_a_storage_that_refuses_the_file_fails_the_export_with_a_reason(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    await create(client, owner, name="Ann", email="ann@example.com")
    # S3 settings with a bucket name S3 refuses, saved through the repository (the route
    # would refuse them: they fail the round trip).
    with as_tenant(acme.tenant):
        await container.resolve(StorageConfigRepository).add(
            StorageConfig(
                provider=StorageProvider.S3, bucket="Not A Bucket!", region="us-east-1",
                access_key_id="AKIADEAD", secret_access_key="dead-secret-key",
                endpoint_url="http://127.0.0.1:9", created_at=utcnow(),
            )
        )  # fmt: skip
    export = await requested(client, owner)
    failed = await finished(client, container, acme, owner, export["id"])
    assert failed["status"] == "failed" and failed["url"] is None
    assert failed["reason"] == (
        "S3 refused these settings: the bucket name or another setting is not valid"
    )
    assert failed["finished_at"] is not None and failed["total_rows"] == 0
    assert "dead-secret-key" not in str(failed)


async def test_an_expired_export_offers_no_link_and_the_sweep_deletes_its_file(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    await create(client, owner, name="Ann", email="ann@example.com")
    await create(client, beta_owner, name="Theirs", email="t@example.com")
    done, _ = await exported_csv(client, container, acme, owner)
    kept, _ = await exported_csv(client, container, beta, beta_owner)
    old_link = done["url"]
    collection = ContactExportDocument.get_pymongo_collection()
    past = utcnow() - timedelta(seconds=1)
    await collection.update_one(
        {"_id": ObjectId(done["id"])}, {"$set": {"expires_at": past, "purge_at": past}}
    )
    expired = (await client.get(f"{EXPORTS}/{done['id']}", headers=owner)).json()
    assert expired["status"] == "done" and expired["url"] is None
    assert expired["url_expires_at"] is None and expired["total_rows"] == 1
    assert (await fetch(client, old_link)).status_code == 200  # until the sweep runs

    # The periodic sweep (platform plane: it visits each tenant) deletes the file.
    assert await container.resolve(SweepExpiredExports).execute() <= 1
    assert (await fetch(client, old_link)).status_code == 404
    raw = await collection.find_one({"_id": ObjectId(done["id"])})
    assert raw is not None and raw["file_id"] is None and raw["purge_at"] is None
    assert raw["status"] == "done"
    assert await FileDocument.find({"tenant_id": acme.tenant.id}).count() == 0
    # Another tenant's export, not expired, keeps its file and link.
    assert await FileDocument.find({"tenant_id": beta.tenant.id}).count() == 1
    still = (await client.get(f"{EXPORTS}/{kept['id']}", headers=beta_owner)).json()
    assert (await fetch(client, still["url"])).status_code == 200
    assert await container.resolve(SweepExpiredExports).execute() == 0


async def test_a_run_claims_its_export_once_and_a_dead_run_lets_go(
    client: AppClient, container: punq.Container
) -> None:
    acme, _, beta, _ = await two_tenants(client)
    # Stored without a job (none queued), so this test alone claims it.
    repository: ContactExportRepository = container.resolve(ContactExportRepository)
    now = utcnow()
    lease = now + timedelta(minutes=6)
    with as_tenant(acme.tenant):
        export = await repository.add(ContactExport(query=ContactQuery(), created_at=now))
        assert export.id is not None
        assert await repository.claim(export.id, at=now, lease_until=lease)
        assert not await repository.claim(export.id, at=now, lease_until=lease)
        assert not await container.resolve(RunContactExport).execute(export.id)
    with as_tenant(beta.tenant):  # another tenant's export cannot be claimed
        assert not await repository.claim(export.id, at=now + timedelta(hours=1), lease_until=lease)
    with as_tenant(acme.tenant):
        # The holder died: once its lease ran out, another run takes it over.
        later = now + timedelta(minutes=7)
        assert await repository.claim(export.id, at=later, lease_until=later)
        claimed = await repository.get(export.id)
        assert claimed is not None and claimed.attempts == 2
        assert claimed.status is ExportStatus.RUNNING
        # Done is final: neither a claim nor a failure moves it.
        assert await repository.finish(export.id, file_id="f", total_rows=0, at=later,
                                       expires_at=later)  # fmt: skip
        assert not await repository.claim(export.id, at=later + timedelta(days=1),
                                          lease_until=later)  # fmt: skip
        assert not await repository.fail(export.id, reason="late", at=later)
