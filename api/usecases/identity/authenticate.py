"""From a bearer token to the request's `Principal`."""

from __future__ import annotations

from api.domain.errors import Unauthorized
from api.domain.identity.auth import Principal, Revocations, TokenService
from api.domain.tenancy import current_tenant_or_none


class Authenticate:
    """Turn a bearer token into the request's `Principal`.

    Rules: the token must verify (signature, algorithm, expiry, audience, issuer); its
    tenant must be the request's tenant (a token of tenant A is refused with tenant B, and a
    platform token is refused inside any tenant); a token whose session or user was
    revoked is refused before it expires; when revocation cannot be checked (Redis down)
    the request is refused with 503 rather than trusted.
    """

    def __init__(self, tokens: TokenService, revocations: Revocations) -> None:
        self._tokens = tokens
        self._revocations = revocations

    async def execute(self, bearer: str) -> Principal:
        claims = self._tokens.decode_access(bearer)
        if claims.tenant_id != current_tenant_or_none():
            raise Unauthorized("This token is not valid for this tenant.")
        if await self._revocations.is_revoked(claims):
            raise Unauthorized("This token has been revoked.")
        return Principal(
            user_id=claims.user_id,
            tenant_id=claims.tenant_id,
            session_id=claims.session_id,
            token_id=claims.token_id,
            permissions=claims.permissions,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
            actor_id=claims.actor_id,
        )
