"""Lead test helpers: a contact to point leads at, creating and changing leads over HTTP."""

from __future__ import annotations

from typing import Any, cast

from tests.support.app import AppClient

LEADS = "/api/v1/leads"
CONTACTS = "/api/v1/contacts"


async def new_contact(
    client: AppClient, headers: dict[str, str], phone: str = "+14155550123", name: str = "Ann"
) -> str:
    response = await client.post(CONTACTS, json={"name": name, "phone": phone}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_lead(client: AppClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(LEADS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def change(
    client: AppClient, headers: dict[str, str], lead_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.patch(f"{LEADS}/{lead_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())
