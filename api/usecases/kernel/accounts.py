"""Shared pieces of the identity use cases: finding users, permissions, issuing sessions."""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import uuid4

from pydantic import BaseModel

from api.common.clock import utcnow
from api.domain.errors import (
    RateLimited,
)
from api.domain.identity.auth import (
    AuthPolicy,
    RateLimiter,
    Session,
    SessionStore,
    TokenPair,
    TokenService,
)
from api.domain.identity.roles import RoleRepository, effective_permissions
from api.domain.identity.users import (
    PlatformUserRepository,
    User,
    UserRepository,
)
from api.domain.permissions import PLATFORM_PERMISSIONS
from api.domain.tenancy import current_tenant_or_none

IMPERSONATION_TTL_SECONDS = 3600


class Accounts:
    """Users of the plane in context: the current tenant's, or platform admins."""

    def __init__(self, users: UserRepository, platform_users: PlatformUserRepository) -> None:
        self._users = users
        self._platform = platform_users

    async def by_email(self, email: str) -> User | None:
        if current_tenant_or_none() is None:
            return await self._platform.get_by_email(email)
        return await self._users.get_by_email(email)

    async def by_id(self, user_id: str) -> User | None:
        if current_tenant_or_none() is None:
            return await self._platform.get(user_id)
        return await self._users.get(user_id)

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None:
        if current_tenant_or_none() is None:
            return await self._platform.update(user_id, changes)
        return await self._users.update(user_id, changes)


class PermissionResolver:
    """Effective permissions of a user: through role inheritance, or the platform set."""

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def of(self, user: User) -> frozenset[str]:
        if user.tenant_id is None:
            return PLATFORM_PERMISSIONS
        if not user.role_ids:
            return frozenset()
        roles = {role.id: role for role in await self._roles.all() if role.id}
        return frozenset(effective_permissions(user.role_ids, roles))


class SessionIssuer:
    """Starts a session (a refresh-token family) and signs its first token pair."""

    def __init__(
        self,
        tokens: TokenService,
        sessions: SessionStore,
        permissions: PermissionResolver,
        policy: AuthPolicy,
    ) -> None:
        self._tokens = tokens
        self._sessions = sessions
        self._permissions = permissions
        self._policy = policy

    async def start(self, user: User, *, actor_id: str | None = None) -> tuple[TokenPair, str]:
        """(tokens, session id) for `user`, in the user's own plane."""
        assert user.id is not None  # noqa: S101 - stored users have ids
        session_id = uuid4().hex
        refresh, refresh_hash = self._tokens.new_refresh_token(session_id)
        now = utcnow()
        await self._sessions.create(
            Session(
                id=session_id,
                tenant_id=user.tenant_id,
                user_id=user.id,
                current_hash=refresh_hash,
                created_at=now,
                expires_at=now + timedelta(seconds=self._session_ttl(actor_id)),
                actor_id=actor_id,
            )
        )
        return await self.tokens_for(user, session_id, refresh, actor_id=actor_id), session_id

    def _session_ttl(self, actor_id: str | None) -> int:
        """Impersonation sessions are short: at most an hour."""
        ttl = self._policy.refresh_ttl_seconds
        return ttl if actor_id is None else min(ttl, IMPERSONATION_TTL_SECONDS)

    async def tokens_for(
        self, user: User, session_id: str, refresh: str, *, actor_id: str | None = None
    ) -> TokenPair:
        assert user.id is not None  # noqa: S101
        access, lifetime = self._tokens.issue_access(
            user_id=user.id,
            tenant_id=user.tenant_id,
            session_id=session_id,
            permissions=await self._permissions.of(user),
            actor_id=actor_id,
        )
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=lifetime)


async def enforce_rate(limiter: RateLimiter, key: str, limit: int, window: int = 60) -> None:
    decision = await limiter.hit(key, limit=limit, window_seconds=window)
    if not decision.allowed:
        raise RateLimited(decision.retry_after)


class UserView(BaseModel):
    """A user as clients see it: roles named, no secrets."""

    user: User
    roles: list[tuple[str, str]]  # (id, name)


ROLE_NAMES_TTL_SECONDS = 2.0


class DescribeUsers:
    """Attach role names to users.

    Presentation only (no decision reads these names), so the tenant's role names are kept
    for `ROLE_NAMES_TTL_SECONDS`: a busy read path then skips the roles query; a renamed role
    shows its new name within two seconds.
    """

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles
        self._names: dict[str, tuple[float, dict[str, str]]] = {}

    async def execute(self, users: list[User]) -> list[UserView]:
        names: dict[str, str] = {}
        tenant_id = next((u.tenant_id for u in users if u.tenant_id), None)
        if tenant_id is not None:
            names = await self._role_names(tenant_id)
        return [
            UserView(user=u, roles=[(r, names[r]) for r in u.role_ids if r in names]) for u in users
        ]

    async def _role_names(self, tenant_id: str) -> dict[str, str]:
        now = time.monotonic()
        cached = self._names.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        names = {role.id: role.name for role in await self._roles.all() if role.id}
        if len(self._names) > 10_000:
            self._names.clear()
        self._names[tenant_id] = (now + ROLE_NAMES_TTL_SECONDS, names)
        return names


USER_NOT_FOUND = "No such user."


def lockout_key(plane: str, email: str) -> str:
    return f"login:failures:{plane}:{email}"
