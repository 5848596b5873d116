"""The start-up step that keeps system roles in step with the catalog: a tenant created
before the `agent` role existed gets it; a tenant's own role of that name is kept."""

from __future__ import annotations

from api.domain.permissions import ADMIN_ROLE, AGENT_ROLE, MEMBER_ROLE, OWNER_ROLE, SYSTEM_ROLES
from api.infrastructure.persistence.identity.roles import RoleDocument, SystemRoleUpgrade
from tests.support.app import AppClient
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import create_role

ROLES = "/api/v1/roles"


def upgrade() -> SystemRoleUpgrade:
    return SystemRoleUpgrade(
        {name: perms for name, (_, perms) in SYSTEM_ROLES.items()},
        {name: description for name, (description, _) in SYSTEM_ROLES.items()},
    )


async def roles_of(client: AppClient, headers: dict[str, str]) -> dict[str, dict[str, object]]:
    listed = (await client.get(ROLES, headers=headers)).json()["items"]
    return {r["name"]: r for r in listed}


async def test_a_new_system_role_reaches_existing_tenants(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    acme_owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    # As if both tenants were created before `agent`: beta has a role of its own so named.
    await RoleDocument.get_pymongo_collection().delete_many({"name_lower": AGENT_ROLE})
    await create_role(client, beta_owner, "Agent", ["files:read"])
    before = (await roles_of(client, beta_owner))["Agent"]

    await upgrade().start()
    await upgrade().start()  # idempotent

    agent = (await roles_of(client, acme_owner))[AGENT_ROLE]
    assert agent["system"] is True
    assert agent["permissions"] == [
        "contacts:read", "contacts:write", "crm:read", "crm:write", "inbox:read",
        "inbox:write", "messages:send", "templates:read", "tickets:manage",
    ]  # fmt: skip
    assert (await roles_of(client, beta_owner))["Agent"] == before
    assert await RoleDocument.get_pymongo_collection().count_documents({}) == 8


async def test_system_roles_get_the_catalogs_permissions_and_tenant_roles_keep_theirs(
    client: AppClient,
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    acme_owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    await create_role(client, beta_owner, "Support", ["files:read"])
    roles = RoleDocument.get_pymongo_collection()
    # As if written before the catalog grew: acme's admin and beta's member lack permissions.
    await roles.update_one(
        {"tenant_id": acme.tenant.id, "name_lower": ADMIN_ROLE},
        {"$set": {"permissions": ["files:read"]}},
    )
    await roles.update_one(
        {"tenant_id": beta.tenant.id, "name_lower": MEMBER_ROLE}, {"$set": {"permissions": []}}
    )
    untouched = await roles.find_one({"tenant_id": acme.tenant.id, "name_lower": OWNER_ROLE})

    await upgrade().start()

    assert (await roles_of(client, acme_owner))[ADMIN_ROLE]["permissions"] == sorted(
        SYSTEM_ROLES[ADMIN_ROLE][1]
    )
    assert (await roles_of(client, beta_owner))[MEMBER_ROLE]["permissions"] == sorted(
        SYSTEM_ROLES[MEMBER_ROLE][1]
    )
    # A role already as the catalog says is not written; a tenant's own role is left.
    assert (
        await roles.find_one({"tenant_id": acme.tenant.id, "name_lower": OWNER_ROLE}) == untouched
    )
    assert (await roles_of(client, beta_owner))["Support"]["permissions"] == ["files:read"]
