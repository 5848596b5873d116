"""The tenant's users (`/api/v1/users`): list, read, create or invite, edit, delete, and
their roles, active flag and sign-in lockout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.domain.identity.auth import Principal
from api.domain.identity.users import User
from api.domain.permissions import Permission
from api.interfaces.http.auth import CurrentPrincipal, require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.auth import UserOut
from api.interfaces.http.schemas.identity.users import (
    UserCreateIn,
    UserPageOut,
    UserRolesIn,
    UserUpdateIn,
)
from api.interfaces.http.schemas.paging import PagingQuery
from api.usecases.files.describe_profiles import DescribeProfiles
from api.usecases.files.remove_avatar import RemoveDeletedUsersAvatar
from api.usecases.identity.create_user import CreateUser
from api.usecases.identity.delete_user import DeleteUser
from api.usecases.identity.get_user import GetUser
from api.usecases.identity.list_users import ListUsers
from api.usecases.identity.reset_user_mfa import ResetUserMfa
from api.usecases.identity.set_user_active import ActivateUser, DeactivateUser
from api.usecases.identity.set_user_roles import SetUserRoles
from api.usecases.identity.unlock_user import UnlockUser
from api.usecases.identity.update_user import UpdateUser

router = APIRouter(prefix="/users", tags=["users"])

Describe = Annotated[DescribeProfiles, Inject(DescribeProfiles)]
_READ = problem_responses(401, 403, 404, 422)
_WRITE = problem_responses(401, 403, 404, 409, 422)


async def _out(describe: DescribeProfiles, user: User) -> UserOut:
    [(view, avatar_url)] = await describe.execute([user])
    return UserOut.of(view, avatar_url)


@router.get(
    "",
    summary="List users",
    description=(
        "Needs `users:read`. `q` matches the start of the email or of any word of the name "
        "(case-insensitively); `is_active` and `role_id` narrow the list. Oldest first."
    ),
    responses=problem_responses(401, 403, 422),
)
async def list_users(
    principal: Annotated[Principal, require(Permission.USERS_READ)],
    paging: PagingQuery,
    use_case: Annotated[ListUsers, Inject(ListUsers)],
    describe: Describe,
    q: Annotated[str | None, Query(max_length=200)] = None,
    is_active: bool | None = None,
    role_id: Annotated[str | None, Query(max_length=64)] = None,
) -> UserPageOut:
    found = await use_case.execute(
        principal,
        query=q,
        is_active=is_active,
        role_id=role_id,
        page=paging.page,
        page_size=paging.page_size,
    )
    views = await describe.execute(found.items)
    return UserPageOut(
        items=[UserOut.of(v, avatar_url) for v, avatar_url in views],
        total=found.total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.post(
    "",
    status_code=201,
    summary="Create or invite a user",
    description=(
        "Needs `users:write`; with `role_ids` also `users:manage_roles`, and you must hold "
        "every permission those roles grant (else 403). Without `role_ids` the user is a "
        "`member`. Without `password` the user is invited by email (a single-use link) and "
        "cannot sign in until they accept. 409 when the email is taken."
    ),
    responses=_WRITE,
)
async def create_user(
    body: UserCreateIn,
    principal: Annotated[Principal, require(Permission.USERS_WRITE)],
    use_case: Annotated[CreateUser, Inject(CreateUser)],
    describe: Describe,
) -> UserOut:
    user = await use_case.execute(
        principal,
        email=str(body.email),
        full_name=body.full_name,
        password=body.password,
        role_ids=body.role_ids,
    )
    return await _out(describe, user)


@router.get(
    "/{user_id}",
    summary="Read a user",
    description="Needs `users:read`, except for your own account.",
    responses=_READ,
)
async def get_user(
    user_id: str,
    principal: CurrentPrincipal,
    use_case: Annotated[GetUser, Inject(GetUser)],
    describe: Describe,
) -> UserOut:
    return await _out(describe, await use_case.execute(principal, user_id))


@router.put(
    "/{user_id}",
    summary="Edit a user's profile",
    description=(
        "`full_name`, `email` and `phone`. You may edit your own `full_name`; editing someone "
        "else needs `users:write`. Nobody changes their own email or phone here; a changed "
        'email is no longer verified. `phone` (international, `+...`; `""` clears it) is '
        "where sign-in codes go by WhatsApp. Roles and the active flag have their own routes."
    ),
    responses=_WRITE,
)
async def update_user(
    user_id: str,
    body: UserUpdateIn,
    principal: CurrentPrincipal,
    use_case: Annotated[UpdateUser, Inject(UpdateUser)],
    describe: Describe,
) -> UserOut:
    user = await use_case.execute(
        principal,
        user_id,
        full_name=body.full_name,
        email=str(body.email) if body.email is not None else None,
        phone=body.phone,
    )
    return await _out(describe, user)


@router.delete(
    "/{user_id}",
    status_code=204,
    summary="Delete a user",
    description=(
        "Needs `users:delete`. Not yourself (409: `POST /auth/delete-account`) and not the "
        "tenant's last active owner (409). The user's sessions end at once and their "
        "avatar is removed from the storage."
    ),
    responses=_WRITE,
)
async def delete_user(
    user_id: str,
    principal: Annotated[Principal, require(Permission.USERS_DELETE)],
    use_case: Annotated[DeleteUser, Inject(DeleteUser)],
    avatars: Annotated[RemoveDeletedUsersAvatar, Inject(RemoveDeletedUsersAvatar)],
) -> Response:
    await avatars.execute(await use_case.execute(principal, user_id))
    return Response(status_code=204)


@router.put(
    "/{user_id}/roles",
    summary="Replace a user's roles",
    description=(
        "Needs `users:manage_roles`. Not your own roles (403); unknown role ids are 422; you "
        "must hold every permission of the roles you assign (403); the tenant keeps an "
        "active owner (409). The user's sessions end so the change applies at once."
    ),
    responses=_WRITE,
)
async def set_user_roles(
    user_id: str,
    body: UserRolesIn,
    principal: Annotated[Principal, require(Permission.USERS_MANAGE_ROLES)],
    use_case: Annotated[SetUserRoles, Inject(SetUserRoles)],
    describe: Describe,
) -> UserOut:
    return await _out(describe, await use_case.execute(principal, user_id, body.role_ids))


@router.post(
    "/{user_id}/activate",
    summary="Activate a user",
    description="Needs `users:activate`; not yourself.",
    responses=_WRITE,
)
async def activate_user(
    user_id: str,
    principal: Annotated[Principal, require(Permission.USERS_ACTIVATE)],
    use_case: Annotated[ActivateUser, Inject(ActivateUser)],
    describe: Describe,
) -> UserOut:
    return await _out(describe, await use_case.execute(principal, user_id))


@router.post(
    "/{user_id}/deactivate",
    summary="Deactivate a user",
    description=(
        "Needs `users:activate`; not yourself, not the last active owner (409). The user's "
        "sessions end at once."
    ),
    responses=_WRITE,
)
async def deactivate_user(
    user_id: str,
    principal: Annotated[Principal, require(Permission.USERS_ACTIVATE)],
    use_case: Annotated[DeactivateUser, Inject(DeactivateUser)],
    describe: Describe,
) -> UserOut:
    return await _out(describe, await use_case.execute(principal, user_id))


@router.post(
    "/{user_id}/unlock",
    status_code=204,
    summary="Clear a user's sign-in lockout",
    description="Needs `users:activate`. Clears the lockout after repeated failed sign-ins.",
    responses=_READ,
)
async def unlock_user(
    user_id: str,
    principal: Annotated[Principal, require(Permission.USERS_ACTIVATE)],
    use_case: Annotated[UnlockUser, Inject(UnlockUser)],
) -> Response:
    await use_case.execute(principal, user_id)
    return Response(status_code=204)


@router.post(
    "/{user_id}/mfa/reset",
    status_code=204,
    summary="Turn off a user's two-factor sign-in",
    description=(
        "Needs `users:activate`. For a user who lost their authenticator: their MFA seed is "
        "erased and their sessions end; they sign in with their password and may set MFA up "
        "again. Not yourself (403: use `/auth/mfa/disable`), not a user holding permissions "
        "you do not (403); 409 when their MFA is off. Audited (`user.mfa_reset`)."
    ),
    responses=_WRITE,
)
async def reset_user_mfa(
    user_id: str,
    principal: Annotated[Principal, require(Permission.USERS_ACTIVATE)],
    use_case: Annotated[ResetUserMfa, Inject(ResetUserMfa)],
) -> Response:
    await use_case.execute(principal, user_id)
    return Response(status_code=204)
