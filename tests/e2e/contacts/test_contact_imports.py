"""Contact imports over HTTP with the session's real worker running the job: good and
broken CSV and XLSX files with their exact error reports, encodings (cp1252, latin-1,
UTF-8 with a BOM), dry runs, the mapping and file checks (422), `contacts:read` /
`contacts:write` (401/403), and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from api.domain.files.storage import FileRepository
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.messaging.contact_imports import ContactImportDocument
from tests.support.app import AppClient, assert_problem
from tests.support.imports import (
    IMPORTS,
    csv_bytes,
    error_report,
    finished,
    run_import,
    started,
    upload,
    xlsx_bytes,
)
from tests.support.people import audit_entries, signed_in, two_tenants

CONTACTS = "/api/v1/contacts"
PROFILE = "/api/v1/tenant/profile"
MAPPING = {
    "Name": "name", "Mobile": "phone", "E-mail": "email", "Lang": "language",
    "Labels": "tags", "Plan": "attribute:plan", "Notes": "ignore",
}  # fmt: skip
HEADER = ["Name", "Mobile", "E-mail", "Lang", "Labels", "Plan", "Notes"]
ROWS: list[list[Any]] = [
    ["Ann", "07911 123456", "ann@example.com", "en", "new; Promo", "gold", "x"],  # 2: updated
    ["Bob", "+1 650 555 1234", "", "", "VIP", "", ""],  # 3: created
    ["", "", "", "", "", "", ""],  # 4: blank
    ["Cat", "12345", "", "", "", "", ""],  # 5: bad phone
    ["Dan", "+447911123457", "not-an-email", "", "", "", ""],  # 6: bad email
    ["Eve", "", "eve@example.com", "", "", "", ""],  # 7: no phone
    ["Fay", "+447911123458", "", "english please", "", "", ""],  # 8: bad language
    ["Bob Again", "+16505551234", "", "", "b2b", "", ""],  # 9: the same number: updated
    ['=HYPERLINK("x")', "=1+2", "", "", "", "", ""],  # 10: bad phone, a formula
]
REPORT = (
    "row,column,value,reason\r\n"
    "4,,,blank row\r\n"
    "5,Mobile,12345,not a valid phone number\r\n"
    "6,E-mail,not-an-email,not a valid email address\r\n"
    "7,Mobile,,phone number is missing\r\n"
    '8,Lang,english please,"not a valid language tag (such as en, pt_BR)"\r\n'
    "10,Mobile,'=1+2,not a valid phone number\r\n"
)
COUNTS = {"total_rows": 9, "processed_rows": 9, "created": 1, "updated": 2, "skipped": 1,
          "failed": 5}  # fmt: skip
IMPORT_FIELDS = {
    "id", "status", "dry_run", "filename", "format", "mapping", "total_rows",
    "processed_rows", "created", "updated", "skipped", "failed", "error", "errors_url",
    "created_at", "started_at", "finished_at",
}  # fmt: skip

pytestmark = pytest.mark.usefixtures("worker")


async def contacts_of(client: AppClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = await client.get(CONTACTS, params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return {c["phone"]: c for c in response.json()["items"]}


async def gb_tenant_with_ann(client: AppClient) -> tuple[dict[str, str], dict[str, str], str]:
    """Acme (GB numbers) with Ann already a contact, opted out; and Beta."""
    _, owner, _, beta = await two_tenants(client)
    assert (await client.put(PROFILE, json={"default_country": "GB"}, headers=owner)).is_success
    ann = await client.post(CONTACTS, headers=owner, json={
        "name": "Old Ann", "phone": "+447911123456", "tags": ["vip"],
        "attributes": {"plan": "silver", "seats": 2},
    })  # fmt: skip
    assert ann.status_code == 201, ann.text
    out = await client.post(f"{CONTACTS}/{ann.json()['id']}/opt-out", headers=owner)
    assert out.status_code == 200
    return owner, beta, ann.json()["id"]


def check_imported(contacts: dict[str, dict[str, Any]], ann_id: str) -> None:
    assert set(contacts) == {"+447911123456", "+16505551234"}
    ann = contacts["+447911123456"]
    assert ann["id"] == ann_id and ann["name"] == "Ann" and ann["email"] == "ann@example.com"
    assert ann["language"] == "en" and ann["tags"] == ["vip", "new", "promo"]
    assert ann["attributes"] == {"plan": "gold", "seats": 2}
    assert ann["opted_out"] is True and ann["source"] == "manual"  # never opted back in
    bob = contacts["+16505551234"]
    assert bob["name"] == "Bob Again" and bob["tags"] == ["vip", "b2b"]
    assert bob["source"] == "import" and bob["opted_out"] is False and bob["attributes"] == {}


async def test_a_csv_import_upserts_by_phone_and_reports_every_bad_row(
    client: AppClient,
) -> None:
    owner, _, ann_id = await gb_tenant_with_ann(client)
    queued = await started(client, owner, csv_bytes([HEADER, *ROWS]), MAPPING)
    assert set(queued) == IMPORT_FIELDS and queued["status"] in ("queued", "running", "done")
    assert queued["dry_run"] is False and queued["format"] == "csv"
    assert queued["errors_url"] == f"http://testserver{IMPORTS}/{queued['id']}/errors"

    first = await finished(client, owner, queued["id"])
    assert first["status"] == "done" and first["error"] is None and first["finished_at"]
    assert {k: first[k] for k in COUNTS} == COUNTS
    check_imported(await contacts_of(client, owner), ann_id)
    # Ended, the import's file (people's personal data) is deleted; its report stays.
    stored = await ContactImportDocument.get_pymongo_collection().find_one(
        {"_id": ObjectId(queued["id"])}
    )
    assert stored is not None
    with tenant_context(TenantId(stored["tenant_id"])):
        assert await client.container.resolve(FileRepository).get(stored["file_id"]) is None

    # Again: every number is known now.
    done = await run_import(client, owner, csv_bytes([HEADER, *ROWS]), MAPPING)
    assert {k: done[k] for k in COUNTS} == {**COUNTS, "created": 0, "updated": 3}
    assert await error_report(client, owner, queued["id"]) == REPORT
    assert await error_report(client, owner, done["id"]) == REPORT
    check_imported(await contacts_of(client, owner), ann_id)

    listed = (await client.get(IMPORTS, params={"limit": 1}, headers=owner)).json()
    assert [i["id"] for i in listed["items"]] == [done["id"]] and listed["next_cursor"]
    rest = await client.get(IMPORTS, params={"cursor": listed["next_cursor"]}, headers=owner)
    assert [i["id"] for i in rest.json()["items"]] == [queued["id"]]
    assert rest.json()["next_cursor"] is None
    audited = await audit_entries(client, owner, resource_type="contact_import")
    assert sorted(e["resource_id"] for e in audited) == sorted([queued["id"], done["id"]])
    assert {e["action"] for e in audited} == {"contact_import.created"}


async def test_an_xlsx_import_reads_numbers_as_typed_in_a_spreadsheet(client: AppClient) -> None:
    owner, _, ann_id = await gb_tenant_with_ann(client)
    rows = [list(r) for r in ROWS]
    rows[2] = [None] * 7  # a blank row in a sheet has no cells
    rows[7][1] = 16505551234  # a number typed as a number: no "+", stored as a number
    content = xlsx_bytes([HEADER, *rows])
    done = await run_import(client, owner, content, MAPPING, filename="contacts.xlsx")
    assert done["status"] == "done" and done["format"] == "xlsx"
    assert {k: done[k] for k in COUNTS} == COUNTS
    assert await error_report(client, owner, done["id"]) == REPORT
    check_imported(await contacts_of(client, owner), ann_id)


async def test_broken_files_and_mappings_are_refused_up_front(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    good = csv_bytes([HEADER, *ROWS])

    def problems(body: dict[str, Any]) -> list[tuple[list[Any], str]]:
        return [(e["loc"], e["msg"]) for e in body["errors"]]

    wrong = {"Name": "nickname", "Missing": "email", "Plan": "attribute:9x", "Mobile": "ignore"}
    bad = await upload(client, owner, good, wrong)
    assert problems(assert_problem(bad, 422, "invalid_import_mapping")) == [
        (["body", "mapping", "Name"], "unknown field 'nickname': one of name, phone, email, "
                                      "language, tags, attribute:<key>, ignore"),
        (["body", "mapping", "Missing"], "no such column in the file's header"),
        (["body", "mapping", "Plan"], "an attribute key is a letter or _ then up to 63 "
                                      "letters, digits or _"),
        (["body", "mapping"], "one column must map to phone"),
    ]  # fmt: skip
    twice = await upload(client, owner, good, {"Mobile": "phone", "Name": "phone"})
    assert problems(assert_problem(twice, 422, "invalid_import_mapping")) == [
        (["body", "mapping", "Name"], "phone is mapped from more than one column"),
    ]
    for mapping in ("not json", '["Mobile"]', '{"Mobile": 1}'):
        response = await upload(client, owner, good, mapping)
        assert_problem(response, 422, "invalid_import_mapping")
    no_mapping = await client.post(IMPORTS, files={"file": ("c.csv", good)}, headers=owner)
    assert_problem(no_mapping, 422, "invalid_import_mapping")
    without_flag = await upload(client, owner, good, MAPPING, dry_run=None)
    assert without_flag.status_code == 202 and without_flag.json()["dry_run"] is False
    bad_flag = await client.post(IMPORTS, files={"file": ("c.csv", good)},
                                 data={"mapping": '{"Mobile": "phone"}', "dry_run": "maybe"},
                                 headers=owner)  # fmt: skip
    assert_problem(bad_flag, 422, "invalid_input")

    phone_only = {"Mobile": "phone"}
    for content, filename, code in (
        (b"", "c.csv", "empty_import_file"),
        (b"Mobile\r\n", "c.csv", "empty_import_file"),
        (xlsx_bytes([["Mobile"]]), "c.xlsx", "empty_import_file"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "c.csv", "invalid_import_file"),
        (b"PK\x03\x04" + b"\x00" * 100, "c.xlsx", "invalid_import_file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "c.png", "invalid_import_file"),
    ):
        response = await upload(client, owner, content, phone_only, filename=filename)
        assert_problem(response, 422, code)
    listed = (await client.get(IMPORTS, headers=owner)).json()["items"]
    assert [i["id"] for i in listed] == [without_flag.json()["id"]]  # nothing else was kept


@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("cp1252", ";"), ("latin-1", ","), ("utf-8-sig", ";")]
)
async def test_encodings_and_delimiters(client: AppClient, encoding: str, delimiter: str) -> None:
    _, owner, _, _ = await two_tenants(client)
    euro = "€" if encoding == "cp1252" else "£"
    rows = [["Name", "Phone", "City"], ["José Müller", "+447911123456", f"Zürich {euro}"],
            ["Zoë Peña", "+447911123457", "Besançon"]]  # fmt: skip
    content = csv_bytes(rows, encoding, delimiter)
    mapping = {"Name": "name", "Phone": "phone", "City": "attribute:city"}
    done = await run_import(client, owner, content, mapping)
    assert done["status"] == "done" and done["created"] == 2, done
    contacts = await contacts_of(client, owner)
    assert contacts["+447911123456"]["name"] == "José Müller"
    assert contacts["+447911123456"]["attributes"] == {"city": f"Zürich {euro}"}
    assert contacts["+447911123457"]["name"] == "Zoë Peña"


async def test_a_dry_run_counts_and_writes_nothing(client: AppClient) -> None:
    owner, _, _ = await gb_tenant_with_ann(client)
    before = await contacts_of(client, owner)
    done = await run_import(client, owner, csv_bytes([HEADER, *ROWS]), MAPPING, dry_run=True)
    assert done["dry_run"] is True and done["status"] == "done"
    assert {k: done[k] for k in COUNTS} == COUNTS  # would create Bob, would update Ann and Bob
    assert await error_report(client, owner, done["id"]) == REPORT
    assert await contacts_of(client, owner) == before


async def test_imports_need_permissions_and_stay_in_their_tenant(client: AppClient) -> None:
    acme, owner, _, beta = await two_tenants(client)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    content = csv_bytes([["Phone", "Name"], ["+447911123456", "Theirs"]])
    mapping = {"Phone": "phone", "Name": "name"}
    theirs = await run_import(client, beta, content, mapping)
    assert theirs["created"] == 1

    assert_problem(await upload(client, {}, content, mapping), 401, "unauthorized")
    assert_problem(await upload(client, member, content, mapping), 403, "forbidden")
    for path in ("", f"/{theirs['id']}", f"/{theirs['id']}/errors"):
        assert_problem(await client.get(f"{IMPORTS}{path}"), 401, "unauthorized")
        assert_problem(await client.get(f"{IMPORTS}{path}", headers=member), 403, "forbidden")
    for path in (f"/{theirs['id']}", f"/{theirs['id']}/errors", "/not-an-id", "/not-an-id/errors"):
        assert_problem(await client.get(f"{IMPORTS}{path}", headers=owner), 404, "not_found")
    assert (await client.get(IMPORTS, headers=owner)).json()["items"] == []
    assert await contacts_of(client, owner) == {}  # the rows landed in Beta only
    assert set(await contacts_of(client, beta)) == {"+447911123456"}
    for params in ({"cursor": "not-one"}, {"limit": 101}, {"limit": 0}):
        assert_problem(await client.get(IMPORTS, params=params, headers=owner), 422,
                       "invalid_input")  # fmt: skip
