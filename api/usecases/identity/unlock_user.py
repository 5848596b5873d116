"""Clearing a user's sign-in lockout."""

from __future__ import annotations

from api.domain.identity.auth import Principal, RateLimiter
from api.domain.identity.users import UserRepository
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant
from api.usecases.identity.rules import existing_user, lockout_key
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission


class UnlockUser:
    """Clear a user's sign-in lockout after repeated failures (`users:activate`).

    Rules: the user exists in this tenant (404); the failure count and the per-account
    attempt limit are cleared. Audited: `user.unlocked`.
    """

    def __init__(self, users: UserRepository, limiter: RateLimiter, auditor: Auditor) -> None:
        self._users = users
        self._limiter = limiter
        self._auditor = auditor

    async def execute(self, principal: Principal, user_id: str) -> None:
        require_permission(principal, Permission.USERS_ACTIVATE)
        target = await existing_user(self._users, user_id)
        plane = current_tenant()
        await self._limiter.reset(lockout_key(plane, target.email))
        await self._limiter.reset(f"login:acct:{plane}:{target.email}")
        await self._auditor.record(
            "user.unlocked", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"email": target.email}),
        )  # fmt: skip
