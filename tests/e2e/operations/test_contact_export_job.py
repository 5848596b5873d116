"""Contact exports end to end with the session's real worker: the queued job
`parley.contacts.export` runs in the worker process, writes the CSV into the tenant's
storage and marks the export done; the signed link downloads it."""

from __future__ import annotations

import asyncio
import csv
import io

import httpx

from api.config import Settings
from tests.support.app import AppClient
from tests.support.files import fetch
from tests.support.people import two_tenants

CONTACTS = "/api/v1/contacts"
EXPORTS = "/api/v1/contacts/exports"


async def test_the_worker_writes_the_export(app_client: tuple[httpx.AsyncClient, Settings]) -> None:
    http, _ = app_client
    assert isinstance(http, AppClient)
    _, owner, _, beta_owner = await two_tenants(http)
    ids = set()
    for n in range(3):
        body = {"name": f"C{n}", "email": f"c{n}@example.com", "attributes": {"n": n}}
        created = await http.post(CONTACTS, json=body, headers=owner)
        assert created.status_code == 201, created.text
        ids.add(created.json()["id"])
    await http.post(CONTACTS, json={"name": "Theirs", "email": "t@example.com"},
                    headers=beta_owner)  # fmt: skip

    export = await http.post(EXPORTS, headers=owner)
    assert export.status_code == 202, export.text
    deadline = asyncio.get_running_loop().time() + 90
    while True:
        state = (await http.get(f"{EXPORTS}/{export.json()['id']}", headers=owner)).json()
        if state["status"] in ("done", "failed"):
            break
        assert asyncio.get_running_loop().time() < deadline, state
        await asyncio.sleep(0.2)
    assert state["status"] == "done" and state["total_rows"] == 3, state
    downloaded = await fetch(http, state["url"])
    assert downloaded.status_code == 200, downloaded.text
    rows = list(csv.DictReader(io.StringIO(downloaded.content.decode("utf-8-sig"))))
    assert {row["id"] for row in rows} == ids
    assert sorted(row["attribute:n"] for row in rows) == ["0", "1", "2"]
