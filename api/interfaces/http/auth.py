"""Authentication and authorisation dependencies for routes.

@router.get("/users/{id}")
async def get_user(principal: Annotated[Principal, require(Permission.USERS_READ)], ...)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.domain.departments import set_department_scope
from api.domain.errors import Forbidden, Unauthorized
from api.domain.identity.api_keys import API_KEY_PREFIX
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.deps import container_of
from api.usecases.identity.api_keys import AuthenticateApiKey, require_user
from api.usecases.identity.authenticate import Authenticate

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An access token from /auth/login, or an API key (`pk_...`).",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key (`pk_...`) of the tenant."
)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> Principal:
    # The use case the credential needs is resolved here, not as two sub-dependencies:
    # on every authenticated request that spared solving both and building the unused one.
    container = container_of(request)
    bearer = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        bearer = credentials.credentials
    if api_key is not None and bearer is not None:
        raise Unauthorized("Send one credential: a bearer token or an X-API-Key, not both.")
    if api_key is not None:
        principal = await container.resolve(AuthenticateApiKey).execute(api_key)
    elif bearer is None:
        raise Unauthorized("A bearer access token or an API key is required.")
    elif bearer.startswith(API_KEY_PREFIX):
        principal = await container.resolve(AuthenticateApiKey).execute(bearer)
    else:
        principal = await container.resolve(Authenticate).execute(bearer)
    request.state.principal = principal
    # The department-routed repositories read it: a limited caller's queries are narrowed
    # to their departments whatever the route does (the rest of this request's task).
    set_department_scope(principal.departments)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_user(principal: CurrentPrincipal) -> Principal:
    """The principal of a user's access token; 403 for an API key (it acts for no user)."""
    require_user(principal)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


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
