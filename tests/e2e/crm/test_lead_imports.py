"""Lead imports over HTTP with the session's real worker running the job: a result for
every row (created, skipped, failed with the column and why), the leads made, a run
repeated after a crash making no lead twice, the file checks (422), `crm:read` /
`crm:write` (401/403), a department-limited starter, and tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from api.domain.crm.lead_imports import LeadImportFiles
from api.domain.files.storage import FileRepository
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.crm.lead_imports import LeadImportDocument
from api.usecases.crm.run_lead_import import GAVE_UP, MAX_ATTEMPTS, RunLeadImport, SweepLeadImports
from tests.support import imports
from tests.support.app import AppClient, assert_problem
from tests.support.imports import csv_bytes, xlsx_bytes
from tests.support.leads import LEADS, add_department, limited_user, new_contact
from tests.support.people import audit_entries, signed_in, two_tenants

IMPORTS = "/api/v1/leads/imports"
HEADER = ["Title", "Phone", "contact_id", "Value", "Currency", "Stage", "Owner_Email",
          "department_id", "Notes", "Ignored"]  # fmt: skip

pytestmark = pytest.mark.usefixtures("worker")


async def upload(client: AppClient, headers: dict[str, str], content: bytes,
                 filename: str = "leads.csv") -> Any:  # fmt: skip
    return await client.post(IMPORTS, files={"file": (filename, content, "text/csv")},
                             headers=headers)  # fmt: skip


async def finished(client: AppClient, headers: dict[str, str], import_id: str) -> dict[str, Any]:
    return await imports.finished(client, headers, import_id, imports=IMPORTS)


def outcomes(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(r["row"], r["outcome"], r.get("column"), r.get("reason")) for r in body["rows"]]


async def test_every_row_gets_its_result_and_a_rerun_makes_nothing_twice(
    client: AppClient, worker: Path
) -> None:
    acme, owner, _, beta = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    sam, _ = await signed_in(client, acme, owner, "sam@example.com", roles=["agent"])
    sales = await add_department(tenant_id, "Sales", [])
    ann = await new_contact(client, owner, "+14155550123", "Ann")
    await new_contact(client, owner, "+14155550124", "Bob")
    rows = [
        ["Fleet", "+1 415 555 0124", "", "1234.5", "eur", "Qualified", "SAM@example.com",
         sales, "Big one", "x"],  # 2: created
        ["Chairs", "", ann, "", "", "", "", "", "", ""],  # 3: created
        ["", "", "", "", "", "", "", "", "", ""],  # 4: blank
        ["", "", ann, "", "", "", "", "", "", ""],  # 5: no title
        ["T", "12345", "", "", "", "", "", "", "", ""],  # 6: bad phone
        ["T", "+14155550199", "", "", "", "", "", "", "", ""],  # 7: nobody has it
        ["T", "", "0123456789abcdef01234567", "", "", "", "", "", "", ""],  # 8
        ["T", "", ann, "-1", "EUR", "", "", "", "", ""],  # 9: negative
        ["T", "", ann, "1.5", "JPY", "", "", "", "", ""],  # 10: too precise
        ["T", "", ann, "1", "ZZZ", "", "", "", "", ""],  # 11: currency
        ["T", "", ann, "", "", "closed", "", "", "", ""],  # 12: stage
        ["T", "", ann, "", "", "", "nobody@example.com", "", "", ""],  # 13: owner
        ["T", "", ann, "", "", "", "", "0123456789abcdef01234567", "", ""],  # 14
        ["T", "", "", "", "", "", "", "", "", ""],  # 15: no contact
    ]  # fmt: skip
    content = csv_bytes([HEADER, *rows])
    response = await upload(client, owner, content)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["total_rows"] == 14 and queued["status"] in ("queued", "running", "done")
    done = await finished(client, owner, queued["id"])
    assert done["status"] == "done" and done["error"] is None and done["finished_at"]
    assert (done["processed_rows"], done["created"], done["skipped"], done["failed"]) == (
        14, 2, 1, 11,
    )  # fmt: skip
    expected = [
        (4, "skipped", None, "blank row"),
        (5, "failed", "title", "1 to 200 characters"),
        (6, "failed", "phone", "not a valid phone number (E.164, such as +14155550123)"),
        (7, "failed", "phone", "no contact has this number"),
        (8, "failed", "contact_id", "unknown contact"),
        (9, "failed", "value", "negative"),
        (10, "failed", "value", "more than 0 decimal(s) for JPY"),
        (11, "failed", "currency", "not an active ISO 4217 currency code, such as EUR"),
        (12, "failed", "stage", "not a stage (new, contacted, qualified, proposal, won, lost)"),
        (13, "failed", "owner_email", "not an active user of this tenant"),
        (14, "failed", "department_id", "unknown department"),
        (15, "failed", "phone", "no contact_id or phone"),
    ]
    assert outcomes(done)[2:] == expected
    assert [r["outcome"] for r in done["rows"][:2]] == ["created", "created"]
    lead_ids = [r["lead_id"] for r in done["rows"][:2]]

    leads = (await client.get(LEADS, params={"source": "import"}, headers=owner)).json()
    by_id = {lead["id"]: lead for lead in leads["items"]}
    assert set(by_id) == set(lead_ids)
    fleet = by_id[lead_ids[0]]
    assert (fleet["title"], fleet["value"], fleet["currency"], fleet["stage"]) == (
        "Fleet", "1234.50", "EUR", "qualified",
    )  # fmt: skip
    assert fleet["owner_id"] == sam["id"] and fleet["department_id"] == sales
    assert fleet["notes"] == "Big one" and fleet["created_by"] == acme.owner.id
    created = await audit_entries(client, owner, action="lead.created")
    assert sorted(e["resource_id"] for e in created) == sorted(lead_ids)

    # The import has ended: its file (people's personal data) is deleted.
    collection = LeadImportDocument.get_pymongo_collection()
    stored = await collection.find_one({"_id": ObjectId(queued["id"])})
    assert stored is not None
    with tenant_context(TenantId(tenant_id)):
        assert await client.container.resolve(FileRepository).get(stored["file_id"]) is None

    # A worker that died after making the leads but before recording the rows, 10 minutes
    # ago (its file still there, as the import had not ended): the sweep queues the import
    # again, and the worker's run settles every row again and finds the leads it made.
    with tenant_context(TenantId(tenant_id)):
        kept = await client.container.resolve(LeadImportFiles).store(
            filename="leads.csv", chunks=imports.chunks(content), owner_id=acme.owner.id or ""
        )
    await collection.update_one({"_id": ObjectId(queued["id"])}, {"$set": {
        "status": "running", "processed_rows": 0, "rows": [], "created": 0, "skipped": 0,
        "failed": 0, "touched_at": datetime.now(UTC) - timedelta(minutes=10),
        "file_id": kept.file_id,
    }})  # fmt: skip
    assert await client.container.resolve(SweepLeadImports).execute() == 1
    again = await finished(client, owner, queued["id"])
    assert outcomes(again) == outcomes(done) and again["created"] == 2
    assert [r.get("lead_id") for r in again["rows"]] == [r.get("lead_id") for r in done["rows"]]
    everything = (await client.get(LEADS, headers=owner)).json()["items"]
    assert len(everything) == 2
    assert len(await audit_entries(client, owner, action="lead.created")) == 2

    listed = (await client.get(IMPORTS, headers=owner)).json()
    assert [i["id"] for i in listed["items"]] == [queued["id"]] and listed["items"][0]["rows"] == []
    assert_problem(await client.get(f"{IMPORTS}/{queued['id']}", headers=beta), 404, "not_found")
    assert (await client.get(IMPORTS, headers=beta)).json()["items"] == []
    audited = await audit_entries(client, owner, action="lead_import.created")
    assert [e["resource_id"] for e in audited] == [queued["id"]]
    assert await client.container.resolve(SweepLeadImports).execute() == 0  # nothing stale

    # An import its runs never finish is given up.
    await collection.update_one({"_id": ObjectId(queued["id"])}, {"$set": {
        "status": "running", "attempts": MAX_ATTEMPTS,
    }})  # fmt: skip
    with tenant_context(TenantId(tenant_id)):
        status = await client.container.resolve(RunLeadImport).execute(queued["id"])
    assert status is not None and status.value == "failed"
    gave_up = await finished(client, owner, queued["id"])
    assert gave_up["status"] == "failed" and gave_up["error"] == GAVE_UP


async def test_an_xlsx_file_and_a_limited_starter(client: AppClient, worker: Path) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    sam_id, sam = await limited_user(client, owner, tenant_id, "sam@example.com")
    sales = await add_department(tenant_id, "Sales", [sam_id])
    support = await add_department(tenant_id, "Support", [])
    ann = await new_contact(client, owner)
    content = xlsx_bytes([["title", "contact_id", "department_id", "value", "currency"],
                          ["Ours", ann, sales, 12, "USD"],
                          ["Theirs", ann, support, None, None],
                          ["Nobody's", ann, None, None, None]])  # fmt: skip
    response = await upload(client, sam, content, "leads.xlsx")
    assert response.status_code == 202, response.text
    assert response.json()["format"] == "xlsx"
    done = await finished(client, sam, response.json()["id"])
    assert outcomes(done)[1:] == [
        (3, "failed", "department_id", "not one of your departments"),
        (4, "failed", "department_id", "not one of your departments"),
    ]
    leads = (await client.get(LEADS, headers=owner)).json()["items"]
    assert [(lead["title"], lead["value"]) for lead in leads] == [("Ours", "12.00")]


async def test_files_that_cannot_be_imported_are_422(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    ann = await new_contact(client, owner)
    cases = [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "invalid_import_file"),
        (csv_bytes([["name", "phone"], ["Ann", "+14155550123"]]), "invalid_import_columns"),
        (csv_bytes([["title", "notes"], ["T", ""]]), "invalid_import_columns"),
        (csv_bytes([["title", "contact_id"]]), "empty_import_file"),
        (b"", "empty_import_file"),
        (csv_bytes([["title", "contact_id"], *[["T", ann]] * 2001]), "too_many_import_rows"),
    ]
    for content, code in cases:
        assert_problem(await upload(client, owner, content), 422, code)
    assert (await client.get(IMPORTS, headers=owner)).json()["items"] == []
    no_file = await client.post(IMPORTS, data={"x": "y"}, headers=owner)
    assert no_file.status_code == 422
    assert acme.tenant.id


async def test_importing_needs_crm_write_and_reading_crm_read(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    _, member = await signed_in(client, acme, owner, "mo@example.com", roles=["member"])
    content = csv_bytes([["title", "phone"], ["T", "+14155550123"]])
    anonymous = {"X-Tenant-ID": acme.tenant.id or ""}
    for headers, status in ((anonymous, 401), (member, 403)):
        assert (await upload(client, headers, content)).status_code == status
        assert (await client.get(IMPORTS, headers=headers)).status_code == status
        missing = f"{IMPORTS}/0123456789abcdef01234567"
        assert (await client.get(missing, headers=headers)).status_code == status
