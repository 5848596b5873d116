"""Starting sessions: a user's effective permissions, and the first token pair of a new
session (sign-in, MFA sign-in, impersonation)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from api.common.clock import utcnow
from api.common.request_context import current_client
from api.domain.identity.auth import AuthPolicy, Session, SessionStore, TokenPair, TokenService
from api.domain.identity.roles import RoleRepository, departments_only, effective_permissions
from api.domain.identity.users import User
from api.domain.permissions import PLATFORM_PERMISSIONS

IMPERSONATION_TTL_SECONDS = 3600
USER_AGENT_KEPT = 256  # characters of a session's user agent kept for its listing


def kept_user_agent(agent: str | None) -> str | None:
    """A client's user agent as a session keeps it (cut to `USER_AGENT_KEPT`; None if empty)."""
    return (agent or "")[:USER_AGENT_KEPT] or None


class PermissionResolver:
    """What a user's roles grant: their effective permissions (through inheritance, or the
    platform set), and whether they are limited to their departments."""

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def of(self, user: User) -> tuple[frozenset[str], bool]:
        """(effective permissions, departments only)."""
        if user.tenant_id is None:
            return PLATFORM_PERMISSIONS, False
        if not user.role_ids:
            return frozenset(), False
        roles = {role.id: role for role in await self._roles.all() if role.id}
        return (
            frozenset(effective_permissions(user.role_ids, roles)),
            departments_only(user.role_ids, roles),
        )


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
        ip, agent = current_client()
        await self._sessions.create(
            Session(
                id=session_id,
                tenant_id=user.tenant_id,
                user_id=user.id,
                current_hash=refresh_hash,
                created_at=now,
                expires_at=now + timedelta(seconds=self._session_ttl(actor_id)),
                actor_id=actor_id,
                ip=ip,
                user_agent=kept_user_agent(agent),
                last_used_at=now,
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
        permissions, limited = await self._permissions.of(user)
        access, lifetime = self._tokens.issue_access(
            user_id=user.id,
            tenant_id=user.tenant_id,
            session_id=session_id,
            permissions=permissions,
            actor_id=actor_id,
            departments_only=limited,
        )
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=lifetime)
