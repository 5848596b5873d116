"""The tenant's roles (`/api/v1/roles`) and the permission catalog (`/api/v1/permissions`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import CurrentPrincipal, require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.roles import (
    PermissionOut,
    PermissionsOut,
    RoleIn,
    RoleOut,
    RolePageOut,
    RoleUpdateIn,
)
from api.interfaces.http.schemas.paging import PagingQuery
from api.usecases.identity.create_role import CreateRole
from api.usecases.identity.delete_role import DeleteRole
from api.usecases.identity.get_role import GetRole
from api.usecases.identity.list_permissions import ListPermissions
from api.usecases.identity.list_roles import ListRoles
from api.usecases.identity.update_role import UpdateRole

router = APIRouter(tags=["roles"])

_READ = problem_responses(401, 403, 404, 422)
_WRITE = problem_responses(401, 403, 404, 409, 422)
_GRANT_RULES = (
    "Every permission must be in the catalog and a tenant permission (else 422, naming it); "
    "inherited roles must exist (422) and inheritance has no cycle (409); names are unique "
    "(409). You must hold every permission the role would grant, through inheritance (403)."
)


@router.get(
    "/permissions",
    summary="The permission catalog",
    description="The tenant permissions roles can grant. Any signed-in user of the tenant.",
    responses=problem_responses(401),
)
async def list_permissions(
    principal: CurrentPrincipal, use_case: Annotated[ListPermissions, Inject(ListPermissions)]
) -> PermissionsOut:
    return PermissionsOut(items=[PermissionOut.of(p) for p in await use_case.execute(principal)])


@router.get(
    "/roles",
    summary="List roles",
    description="Needs `roles:read`. By name.",
    responses=problem_responses(401, 403, 422),
)
async def list_roles(
    principal: Annotated[Principal, require(Permission.ROLES_READ)],
    paging: PagingQuery,
    use_case: Annotated[ListRoles, Inject(ListRoles)],
) -> RolePageOut:
    found = await use_case.execute(principal, page=paging.page, page_size=paging.page_size)
    return RolePageOut(
        items=[RoleOut.of(r) for r in found.items],
        total=found.total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.post(
    "/roles",
    status_code=201,
    summary="Create a role",
    description="Needs `roles:write`. " + _GRANT_RULES,
    responses=_WRITE,
)
async def create_role(
    body: RoleIn,
    principal: Annotated[Principal, require(Permission.ROLES_WRITE)],
    use_case: Annotated[CreateRole, Inject(CreateRole)],
) -> RoleOut:
    role = await use_case.execute(
        principal,
        name=body.name,
        description=body.description,
        permissions=body.permissions,
        inherits=body.inherits,
        departments_only=body.departments_only,
    )
    return RoleOut.of(role)


@router.get(
    "/roles/{role_id}", summary="Read a role", description="Needs `roles:read`.", responses=_READ
)
async def get_role(
    role_id: str,
    principal: Annotated[Principal, require(Permission.ROLES_READ)],
    use_case: Annotated[GetRole, Inject(GetRole)],
) -> RoleOut:
    return RoleOut.of(await use_case.execute(principal, role_id))


@router.put(
    "/roles/{role_id}",
    summary="Edit a role",
    description=(
        "Needs `roles:write`; fields left out keep their values. System roles cannot be "
        "changed (409). " + _GRANT_RULES + " Users who lose a permission through the change, "
        "or whose role becomes `departments_only`, have their sessions ended."
    ),
    responses=_WRITE,
)
async def update_role(
    role_id: str,
    body: RoleUpdateIn,
    principal: Annotated[Principal, require(Permission.ROLES_WRITE)],
    use_case: Annotated[UpdateRole, Inject(UpdateRole)],
) -> RoleOut:
    role = await use_case.execute(
        principal,
        role_id,
        name=body.name,
        description=body.description,
        permissions=body.permissions,
        inherits=body.inherits,
        departments_only=body.departments_only,
    )
    return RoleOut.of(role)


@router.delete(
    "/roles/{role_id}",
    status_code=204,
    summary="Delete a role",
    description=(
        "Needs `roles:delete`. System roles and roles other roles inherit cannot be deleted "
        "(409). Users holding the role lose it and their sessions end."
    ),
    responses=_WRITE,
)
async def delete_role(
    role_id: str,
    principal: Annotated[Principal, require(Permission.ROLES_DELETE)],
    use_case: Annotated[DeleteRole, Inject(DeleteRole)],
) -> Response:
    await use_case.execute(principal, role_id)
    return Response(status_code=204)
