"""Administering users' access: their roles, their active flag, their sign-in lockout.

Every change that narrows someone's access ends their sessions at once (refresh tokens
spent, access tokens refused), so it applies on their next request.
"""

from __future__ import annotations

from api.domain.errors import Forbidden, NotFound
from api.domain.identity.auth import Principal, RateLimiter
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant
from api.usecases.kernel.accounts import USER_NOT_FOUND, lockout_key
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    SessionEnder,
    audit_extra,
    check_can_grant,
    check_may_manage,
    require_permission,
)


async def _target(users: UserRepository, user_id: str) -> User:
    user = await users.get(user_id)
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    return user


class SetUserRoles:
    """Replace a user's roles (`users:manage_roles`).

    Rules: nobody changes their own roles (403); every id is a role of this tenant (422);
    the actor holds every permission the user has now (403) and every permission the new
    roles grant, through inheritance (403); the tenant keeps an active owner (409). The
    user's sessions end so the change applies at once. Audited: `user.roles_changed` with
    the role ids before and after (nothing is written when nothing changes).
    """

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        sessions: SessionEnder,
        auditor: Auditor,
    ) -> None:
        self._users = users
        self._authority = authority
        self._sessions = sessions
        self._auditor = auditor

    async def execute(self, principal: Principal, user_id: str, role_ids: list[str]) -> User:
        require_permission(principal, Permission.USERS_MANAGE_ROLES)
        if user_id == principal.user_id:
            raise Forbidden("You cannot change your own roles.")
        target = await _target(self._users, user_id)
        book = await self._authority.book()
        new_ids = book.known(role_ids, "role_ids")
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective(target.role_ids), "user")
        check_can_grant(held, book.effective(new_ids))
        if set(new_ids) == set(target.role_ids):
            return target
        await self._authority.check_keeps_an_owner(
            target, stays_owner=book.holds_owner(new_ids), book=book
        )
        updated = await self._users.update(user_id, {"role_ids": new_ids})
        if updated is None:
            raise NotFound(USER_NOT_FOUND)
        await self._sessions.end([user_id])
        await self._auditor.record(
            "user.roles_changed", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"role_ids": {"from": target.role_ids,
                                                         "to": new_ids}}),
        )  # fmt: skip
        return updated


class _SetActive:
    """Shared steps of activation and deactivation."""

    active: bool

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        sessions: SessionEnder,
        auditor: Auditor,
    ) -> None:
        self._users = users
        self._authority = authority
        self._sessions = sessions
        self._auditor = auditor

    async def execute(self, principal: Principal, user_id: str) -> User:
        require_permission(principal, Permission.USERS_ACTIVATE)
        if user_id == principal.user_id:
            raise Forbidden("You cannot change your own active flag.")
        target = await _target(self._users, user_id)
        book = await self._authority.book()
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective(target.role_ids), "user")
        if target.is_active is self.active:
            return target
        if not self.active:
            await self._authority.check_keeps_an_owner(target, stays_owner=False, book=book)
        updated = await self._users.update(user_id, {"is_active": self.active})
        if updated is None:
            raise NotFound(USER_NOT_FOUND)
        if not self.active:
            await self._sessions.end([user_id])
        action = "user.activated" if self.active else "user.deactivated"
        await self._auditor.record(
            action, "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"is_active": {"from": not self.active,
                                                          "to": self.active}}),
        )  # fmt: skip
        return updated


class ActivateUser(_SetActive):
    """Let a deactivated user sign in again (`users:activate`).

    Rules: not yourself (403); not a user holding permissions you do not (403); activating
    an active user changes nothing. Audited: `user.activated`.
    """

    active = True


class DeactivateUser(_SetActive):
    """Stop a user from signing in (`users:activate`); their sessions end at once.

    Rules: not yourself (403); not a user holding permissions you do not (403); not the
    tenant's last active owner (409); deactivating an inactive user changes nothing.
    Audited: `user.deactivated`.
    """

    active = False


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
        target = await _target(self._users, user_id)
        plane = current_tenant()
        await self._limiter.reset(lockout_key(plane, target.email))
        await self._limiter.reset(f"login:acct:{plane}:{target.email}")
        await self._auditor.record(
            "user.unlocked", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"email": target.email}),
        )  # fmt: skip
