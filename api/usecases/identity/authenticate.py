"""From a bearer token to the request's `Principal`."""

from __future__ import annotations

from api.domain.departments import DepartmentRepository
from api.domain.errors import Forbidden, Unauthorized
from api.domain.identity.auth import Principal, Revocations, TokenService
from api.domain.tenancy import current_tenant_or_none, tenant_context
from api.usecases.kernel.tenancy import ResolveTenant


class Authenticate:
    """Turn a bearer token into the request's `Principal`.

    Rules: the token must verify (signature, algorithm, expiry, audience, issuer); its
    tenant must be the request's tenant (a token of tenant A is refused with tenant B, and a
    platform token is refused inside any tenant); a token whose session or user was
    revoked is refused before it expires; when revocation cannot be checked (Redis down)
    the request is refused with 503 rather than trusted. A caller whose every role is
    limited to departments (the token says so) gets the departments they are a member of
    now, read per request so that a membership change applies at once.
    """

    def __init__(
        self, tokens: TokenService, revocations: Revocations, departments: DepartmentRepository
    ) -> None:
        self._tokens = tokens
        self._revocations = revocations
        self._departments = departments

    async def execute(self, bearer: str) -> Principal:
        claims = self._tokens.decode_access(bearer)
        if claims.tenant_id != current_tenant_or_none():
            raise Unauthorized("This token is not valid for this tenant.")
        if await self._revocations.is_revoked(claims):
            raise Unauthorized("This token has been revoked.")
        departments = None
        if claims.departments_only and claims.tenant_id is not None:
            departments = frozenset(await self._departments.member_of(claims.user_id))
        return Principal(
            user_id=claims.user_id,
            tenant_id=claims.tenant_id,
            session_id=claims.session_id,
            token_id=claims.token_id,
            permissions=claims.permissions,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
            actor_id=claims.actor_id,
            departments=departments,
        )


class AuthenticateSocket:
    """Turn the token a socket presents (in its URL or its first frame) into its `Principal`.

    Rules: the socket's tenant is the token's (browsers cannot send `X-Tenant-ID` on a
    WebSocket); when the connection named a tenant anyway (header or subdomain), it must be
    the token's, else `Forbidden`: a token never reaches another tenant. The token's tenant
    must exist and be active (`TenantNotFound`, `TenantSuspended`); a platform token has no
    tenant and is `Forbidden`. Then exactly `Authenticate`'s checks, in that tenant:
    signature, expiry, revocation (a disabled user's sessions are revoked).
    """

    def __init__(
        self, tokens: TokenService, tenants: ResolveTenant, authenticate: Authenticate
    ) -> None:
        self._tokens = tokens
        self._tenants = tenants
        self._authenticate = authenticate

    async def execute(self, bearer: str, named_tenant: str | None) -> Principal:
        claims = self._tokens.decode_access(bearer)
        if claims.tenant_id is None:
            raise Forbidden("A tenant's access token is needed.")
        if named_tenant is not None and named_tenant != claims.tenant_id:
            raise Forbidden("This token is not valid for the tenant this connection names.")
        tenant_id = await self._tenants.by_id(claims.tenant_id)
        with tenant_context(tenant_id):
            return await self._authenticate.execute(bearer)
