"""The company profile over HTTP: defaults, read by any user of the tenant, replaced with
`tenant:update`, validated (country, time zone, colour, keywords), audited, per tenant."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient, assert_problem
from tests.support.people import audit_entries, signed_in, two_tenants

PROFILE = "/api/v1/tenant/profile"
DEFAULTS: dict[str, Any] = {
    "display_name": None, "logo_file_id": None, "brand_color": None, "timezone": "UTC",
    "default_country": None, "locale": None, "email_footer": None, "opt_out_keywords": [],
    "opt_in_keywords": [], "updated_at": None,
}  # fmt: skip


async def test_the_profile_is_read_by_members_and_replaced_by_admins(client: AppClient) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")

    read = await client.get(PROFILE, headers=member)
    assert read.status_code == 200, read.text
    assert read.json() == DEFAULTS

    body = {
        "display_name": "Acme Corp", "brand_color": "#FF6600", "timezone": "Europe/Lisbon",
        "default_country": "pt", "locale": "pt-PT", "email_footer": "Acme, Lisboa",
        "opt_out_keywords": ["  Parar ", "PARAR", "cancelar envios"], "opt_in_keywords": ["Voltar"],
    }  # fmt: skip
    saved = await client.put(PROFILE, json=body, headers=owner)
    assert saved.status_code == 200, saved.text
    profile = saved.json()
    assert profile["default_country"] == "PT" and profile["timezone"] == "Europe/Lisbon"
    assert profile["opt_out_keywords"] == ["Parar", "cancelar envios"]
    assert profile["updated_at"] is not None
    assert (await client.get(PROFILE, headers=member)).json() == profile
    assert (await client.get(PROFILE, headers=beta_owner)).json() == DEFAULTS

    replaced = await client.put(PROFILE, json={"timezone": "America/Sao_Paulo"}, headers=owner)
    assert replaced.json()["default_country"] is None  # PUT replaces the whole profile

    entries = await audit_entries(client, owner, action="tenant.profile_updated")
    assert len(entries) == 2
    assert entries[-1]["changes"]["default_country"] == {"from": None, "to": "PT"}

    assert_problem(await client.put(PROFILE, json=body, headers=member), 403, "forbidden")
    assert_problem(await client.get(PROFILE), 401, "unauthorized")


async def test_a_bad_profile_is_refused_field_by_field(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    bad = {
        "default_country": "XX", "timezone": "Mars/Olympus", "brand_color": "orange",
        "opt_out_keywords": ["STOP", "x" * 31], "opt_in_keywords": ["stop"],
    }  # fmt: skip
    problem = assert_problem(await client.put(PROFILE, json=bad, headers=owner), 422,
                             "invalid_input")  # fmt: skip
    assert {tuple(e["loc"]) for e in problem["errors"]} == {
        ("body", "default_country"), ("body", "timezone"), ("body", "brand_color"),
        ("body", "opt_out_keywords", 1), ("body", "opt_in_keywords"),
    }  # fmt: skip
    too_many = {"opt_out_keywords": [f"w{i}" for i in range(21)]}
    assert_problem(await client.put(PROFILE, json=too_many, headers=owner), 422, "invalid_input")
    assert (await client.get(PROFILE, headers=owner)).json() == DEFAULTS
