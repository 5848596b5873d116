"""API keys (`/api/v1/api-keys`): created, listed, read and revoked by those holding
`api_keys:manage`, and the authentication of requests that present one.

Rules: a key's permissions are catalog tenant permissions (422 naming unknown or platform
ones), at least one, never `api_keys:manage` (a leaked key cannot mint keys that outlive
its revocation), and each held by its creator now, through their roles and token (403
naming the missing ones). A caller limited to departments cannot create keys (a key is
not limited). Managing keys needs a user: a key cannot manage keys. `expires_at`, when
given, is in the future, at most 10 years ahead. The whole key is answered once, at
creation; only its keyed hash is stored. Audited: `api_key.created`, `api_key.revoked`,
and refused uses (`api_key.auth_failed`, at most one a minute per key prefix).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.domain.clock import Clock
from api.domain.errors import (
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
)
from api.domain.identity.api_keys import (
    ApiKey,
    ApiKeyPage,
    ApiKeyRepository,
    ApiKeySecrets,
    key_actor,
)
from api.domain.identity.auth import AuthPolicy, Principal, RateLimiter
from api.domain.permissions import TENANT_PERMISSIONS, Permission
from api.domain.tenancy import current_tenant, current_tenant_or_none
from api.usecases.identity.rules import check_permission_names
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    audit_extra,
    check_can_grant,
    require_permission,
)
from api.usecases.kernel.clock import stored_time

KEY_NOT_FOUND = "API key not found."
INVALID_KEY = "The API key is not valid."
MAX_NAME_LENGTH = 100
MAX_LIFETIME = timedelta(days=3653)  # an expiry further away is a typo (or no expiry)
# A key without an expiry still needs one in its principal (never reached).
_NO_EXPIRY = datetime(9999, 12, 31, tzinfo=UTC)
_WINDOW_SECONDS = 60


def require_user(principal: Principal) -> None:
    """`Forbidden` when the caller is an API key: this work needs a user."""
    if principal.is_api_key:
        raise Forbidden("This needs a user's access token; an API key acts for no user.")


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key and the whole key, which is never shown again."""

    key: ApiKey
    secret: str


class CreateApiKey:
    """Create a key (`api_keys:manage`, a user); see the module's rules."""

    def __init__(
        self,
        keys: ApiKeyRepository,
        secrets: ApiKeySecrets,
        authority: Authority,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._keys = keys
        self._secrets = secrets
        self._authority = authority
        self._auditor = auditor
        self._clock = clock

    async def execute(
        self,
        principal: Principal,
        *,
        name: str,
        permissions: list[str],
        expires_at: datetime | None = None,
    ) -> CreatedApiKey:
        require_permission(principal, Permission.API_KEYS_MANAGE)
        require_user(principal)
        if principal.departments is not None:
            raise Forbidden("A caller limited to departments cannot create API keys.")
        name = " ".join(name.split())
        problems: list[FieldProblem] = []
        if not 1 <= len(name) <= MAX_NAME_LENGTH:
            problems.append(FieldProblem(("name",), f"1 to {MAX_NAME_LENGTH} characters"))
        now = self._clock.now()
        if expires_at is not None and expires_at.tzinfo is None:
            problems.append(FieldProblem(("expires_at",), "a time with its UTC offset"))
        elif expires_at is not None and expires_at <= now:
            problems.append(FieldProblem(("expires_at",), "must be in the future"))
        elif expires_at is not None and expires_at > now + MAX_LIFETIME:
            problems.append(FieldProblem(("expires_at",), "at most 10 years ahead"))
        if Permission.API_KEYS_MANAGE in permissions:
            problems.append(
                FieldProblem(("permissions",), "an API key cannot hold 'api_keys:manage'")
            )
        if problems:
            raise InvalidInput("; ".join(p.msg for p in problems) + ".", problems)
        granted = check_permission_names(permissions)
        if not granted:
            raise InvalidInput(
                "An API key needs at least one permission.",
                [FieldProblem(("permissions",), "at least one permission")],
            )
        held = await self._authority.held_by(principal, await self._authority.book())
        check_can_grant(held, granted)
        issued = self._secrets.issue()
        key = await self._keys.add(
            ApiKey(
                tenant_id=current_tenant(),
                name=name,
                prefix=issued.prefix,
                secret_hash=issued.secret_hash,
                permissions=granted,
                created_by=principal.user_id,
                created_at=stored_time(now),
                expires_at=stored_time(expires_at.astimezone(UTC)) if expires_at else None,
            )
        )
        await self._auditor.record(
            "api_key.created", "api_key", key.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {
                "name": key.name, "prefix": key.prefix, "permissions": key.permissions,
                "expires_at": key.expires_at.isoformat() if key.expires_at else None,
            }),
        )  # fmt: skip
        return CreatedApiKey(key, issued.key)


class ListApiKeys:
    """The tenant's unrevoked keys, newest first (`api_keys:manage`)."""

    def __init__(self, keys: ApiKeyRepository) -> None:
        self._keys = keys

    async def execute(self, principal: Principal, *, page: int, page_size: int) -> ApiKeyPage:
        require_permission(principal, Permission.API_KEYS_MANAGE)
        require_user(principal)
        return await self._keys.search(skip=(page - 1) * page_size, limit=page_size)


class GetApiKey:
    """One unrevoked key of the tenant (`api_keys:manage`); never its secret."""

    def __init__(self, keys: ApiKeyRepository) -> None:
        self._keys = keys

    async def execute(self, principal: Principal, key_id: str) -> ApiKey:
        require_permission(principal, Permission.API_KEYS_MANAGE)
        require_user(principal)
        key = await self._keys.get(key_id)
        if key is None:
            raise NotFound(KEY_NOT_FOUND)
        return key


class RevokeApiKey:
    """Revoke a key (`api_keys:manage`): its next request, on any replica, is 401 (each
    request reads the key)."""

    def __init__(self, keys: ApiKeyRepository, auditor: Auditor, clock: Clock) -> None:
        self._keys = keys
        self._auditor = auditor
        self._clock = clock

    async def execute(self, principal: Principal, key_id: str) -> None:
        require_permission(principal, Permission.API_KEYS_MANAGE)
        require_user(principal)
        revoked = await self._keys.revoke(key_id, stored_time(self._clock.now()))
        if revoked is None:
            raise NotFound(KEY_NOT_FOUND)
        await self._auditor.record(
            "api_key.revoked", "api_key", key_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": revoked.name, "prefix": revoked.prefix}),
        )  # fmt: skip


class AuthenticateApiKey:
    """Turn a presented API key into the request's `Principal`.

    Rules: the key must be well formed, be a key of the request's tenant (a key of tenant
    A named with tenant B is unknown there: 401, and B's data is never reached), match its
    stored hash, be unrevoked and unexpired (401 each; one read of the key per request, so
    a revocation applies at once on every replica). Then the key's rate limit (429 with
    `Retry-After`); `last_used_at` is written at most once a minute per key. Refusals are
    audited (`api_key.auth_failed`), at most once a minute per key prefix and tenant.
    """

    def __init__(
        self,
        keys: ApiKeyRepository,
        secrets: ApiKeySecrets,
        limiter: RateLimiter,
        policy: AuthPolicy,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._keys = keys
        self._secrets = secrets
        self._limiter = limiter
        self._policy = policy
        self._auditor = auditor
        self._clock = clock

    async def execute(self, presented: str) -> Principal:
        parsed = self._secrets.parse(presented)
        if parsed is None:
            raise Unauthorized(INVALID_KEY)
        prefix, presented_hash = parsed
        tenant_id = current_tenant_or_none()
        if tenant_id is None:
            raise Unauthorized("An API key is valid only in its tenant; name the tenant.")
        key = await self._keys.by_prefix(prefix)
        if key is None or key.id is None:
            await self._refused(prefix, None, "unknown")
            raise Unauthorized(INVALID_KEY)
        if not self._secrets.matches(presented_hash, key.secret_hash):
            await self._refused(prefix, key.id, "wrong_secret")
            raise Unauthorized(INVALID_KEY)
        now = self._clock.now()
        if key.revoked_at is not None:
            await self._refused(prefix, key.id, "revoked")
            raise Unauthorized("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            await self._refused(prefix, key.id, "expired")
            raise Unauthorized("This API key has expired.")
        decision = await self._limiter.hit(
            f"api_key:{key.id}", limit=self._policy.api_key_rate_per_minute,
            window_seconds=_WINDOW_SECONDS,
        )  # fmt: skip
        if not decision.allowed:
            raise RateLimited(decision.retry_after, "This API key's rate limit is reached.")
        used = await self._limiter.hit(
            f"api_key_used:{key.id}", limit=1, window_seconds=_WINDOW_SECONDS
        )
        if used.allowed:
            await self._keys.touch(key.id, stored_time(now))
        return Principal(
            user_id=key_actor(key.id),
            tenant_id=tenant_id,
            session_id=key_actor(key.id),
            token_id=key.id,
            permissions=frozenset(key.permissions) & TENANT_PERMISSIONS,
            issued_at=key.created_at,
            expires_at=key.expires_at or _NO_EXPIRY,
            api_key_id=key.id,
        )

    async def _refused(self, prefix: str, key_id: str | None, reason: str) -> None:
        first = await self._limiter.hit(
            f"api_key_refused:{current_tenant()}:{prefix}", limit=1,
            window_seconds=_WINDOW_SECONDS,
        )  # fmt: skip
        if first.allowed:
            await self._auditor.record(
                "api_key.auth_failed", "api_key", key_id,
                actor_id=key_actor(key_id) if key_id else None,
                changes={"prefix": prefix, "reason": reason},
            )  # fmt: skip
