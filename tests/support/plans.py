"""Helpers for the plans tests: a plan made by the platform admin, a tenant put on it."""

from __future__ import annotations

from typing import Any, cast

import httpx

from tests.support.app import AppClient
from tests.support.onboarding import admin_headers
from tests.support.people import TwoTenants, two_tenants

PLANS = "/api/v1/plans"
USAGE = "/api/v1/tenant/usage"


async def make_plan(
    http: httpx.AsyncClient, admin: dict[str, str], name: str = "Starter", **limits: Any
) -> dict[str, Any]:
    response = await http.post(PLANS, json={"name": name, "limits": limits}, headers=admin)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def put_on_plan(
    http: httpx.AsyncClient, admin: dict[str, str], tenant_id: str, plan_id: str | None
) -> None:
    response = await http.put(
        f"/api/v1/tenants/{tenant_id}/plan", json={"plan_id": plan_id}, headers=admin
    )
    assert response.status_code == 200, response.text


async def usage(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await http.get(USAGE, headers=headers)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


async def acme_on_plan(client: AppClient, **limits: int | None) -> TwoTenants:
    """Two tenants, acme on a new plan with these limits (beta on none): (acme, its
    owner's headers, beta, its owner's headers)."""
    admin = await admin_headers(client)
    tenants = await two_tenants(client)
    plan = await make_plan(client, admin, "Starter", **limits)
    await put_on_plan(client, admin, tenants[0].tenant.id or "", plan["id"])
    return tenants
