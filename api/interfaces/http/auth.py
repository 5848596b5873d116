"""Authentication and authorisation dependencies for routes.

@router.get("/users/{id}")
async def get_user(principal: Annotated[Principal, require(Permission.USERS_READ)], ...)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.domain.departments import set_department_scope
from api.domain.errors import Forbidden, Unauthorized
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.deps import Inject
from api.usecases.identity.authenticate import Authenticate

bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /auth/login.")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    authenticate: Annotated[Authenticate, Inject(Authenticate)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("A bearer access token is required.")
    principal = await authenticate.execute(credentials.credentials)
    request.state.principal = principal
    # The department-routed repositories read it: a limited caller's queries are narrowed
    # to their departments whatever the route does (the rest of this request's task).
    set_department_scope(principal.departments)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Any:
    """A dependency giving the principal, or 403 when it lacks `permission`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"This needs the '{permission}' permission.")
        return principal

    return Depends(check)


def require_platform(permission: Permission) -> Any:
    """Like `require`, for platform-plane routes: a platform admin's token only."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.is_platform or not principal.can(permission):
            raise Forbidden(f"This needs the platform '{permission}' permission.")
        return principal

    return Depends(check)
