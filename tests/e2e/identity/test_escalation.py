"""The grant rule, by trying to escalate: nobody hands out a permission they do not hold,
through roles they create, edit or assign, and nobody manages someone above them."""

from __future__ import annotations

import httpx
import punq

from api.domain.identity.roles import RoleRepository
from api.domain.tenancy import TenantId, tenant_context
from tests.support.app import AppClient, assert_problem
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import ROLES, USERS, add_user, create_role, role_id, signed_in

ME = "/api/v1/auth/me"


# -- the grant rule ------------------------------------------------------------------------


async def test_a_role_manager_cannot_escalate(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    manager_perms = [
        "users:read",
        "users:write",
        "users:manage_roles",
        "users:activate",
        "roles:read",
        "roles:write",
        "roles:delete",
        "ai:use",
        "files:read",
        "files:write",
    ]
    await create_role(client, owner, "manager", manager_perms)
    auditor = await create_role(client, owner, "auditor", ["audit:read"])
    manager, headers = await signed_in(client, acme, owner, "m@acme.example.com", roles=["manager"])
    target = await add_user(client, owner, "t@acme.example.com")
    admin = await role_id(client, owner, "admin")

    def refused(response: httpx.Response) -> None:
        assert_problem(response, 403, "forbidden")

    # Roles that would grant what the manager lacks: directly, or through inheritance.
    refused(
        await client.post(
            ROLES, json={"name": "peek", "permissions": ["audit:read"]}, headers=headers
        )
    )
    refused(await client.post(ROLES, json={"name": "sub", "inherits": [admin]}, headers=headers))
    mine = await create_role(client, headers, "helper", ["users:read"])  # within: allowed
    helper_url = f"{ROLES}/{mine['id']}"
    refused(await client.put(helper_url, json={"permissions": ["audit:read"]}, headers=headers))
    refused(await client.put(helper_url, json={"inherits": [auditor["id"]]}, headers=headers))
    # Roles above the manager are out of reach, even to narrow or delete.
    auditor_url = f"{ROLES}/{auditor['id']}"
    refused(await client.put(auditor_url, json={"description": "x"}, headers=headers))
    refused(await client.delete(auditor_url, headers=headers))
    # Assigning roles that hold what the manager lacks.
    roles_url = f"{USERS}/{target['id']}/roles"
    refused(await client.put(roles_url, json={"role_ids": [admin]}, headers=headers))
    refused(await client.put(roles_url, json={"role_ids": [auditor["id"]]}, headers=headers))
    created = await client.post(
        USERS,
        json={"email": "n@acme.example.com", "full_name": "N", "role_ids": [admin]},
        headers=headers,
    )
    refused(created)
    # Their own roles and active flag.
    own_roles = f"{USERS}/{manager['id']}/roles"
    refused(await client.put(own_roles, json={"role_ids": [admin]}, headers=headers))
    refused(await client.put(own_roles, json={"role_ids": [mine["id"]]}, headers=headers))
    refused(await client.post(f"{USERS}/{manager['id']}/activate", headers=headers))
    refused(await client.post(f"{USERS}/{manager['id']}/deactivate", headers=headers))
    # Users above them: not demoted, disabled, or taken over through their email.
    owner_url = f"{USERS}/{acme.owner.id}"
    refused(
        await client.put(f"{owner_url}/roles", json={"role_ids": [mine["id"]]}, headers=headers)
    )
    refused(await client.post(f"{owner_url}/deactivate", headers=headers))
    refused(await client.put(owner_url, json={"email": "m2@acme.example.com"}, headers=headers))
    # Within their own permissions everything works.
    assigned = await client.put(roles_url, json={"role_ids": [mine["id"]]}, headers=headers)
    assert assigned.status_code == 200, assigned.text
    assert (
        await client.post(f"{USERS}/{target['id']}/deactivate", headers=headers)
    ).status_code == 200
    me = (await client.get(ME, headers=headers)).json()
    assert "audit:read" not in me["permissions"]
    assert [r["name"] for r in me["roles"]] == ["manager"]


async def test_a_demoted_actor_cannot_grant_with_an_old_token(
    client: AppClient, container: punq.Container
) -> None:
    """Permissions are read afresh for grants: a token minted before a role lost a permission
    cannot hand that permission out (should it outlive the session ending)."""
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    await create_role(client, owner, "manager", ["roles:write", "audit:read"])
    _, headers = await signed_in(client, acme, owner, "m@acme.example.com", roles=["manager"])
    # Narrow the role behind the token's back (directly in the repository, as a race would).
    repository = container.resolve(RoleRepository)
    with tenant_context(TenantId(acme.tenant.id or "")):
        manager = await repository.get_by_name("manager")
        assert manager is not None and manager.id is not None
        await repository.update(manager.id, {"permissions": ["roles:write"]})
    response = await client.post(
        ROLES, json={"name": "peek", "permissions": ["audit:read"]}, headers=headers
    )
    assert_problem(response, 403, "forbidden")
