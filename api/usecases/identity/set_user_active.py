"""Activating and deactivating a user: one flow, two use cases.

Deactivating ends the user's sessions at once, so it applies on their next request."""

from __future__ import annotations

from api.domain.errors import Forbidden, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import Permission
from api.domain.plans import LimitName
from api.usecases.identity.rules import existing_user
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    SessionEnder,
    audit_extra,
    check_may_manage,
    require_permission,
)
from api.usecases.kernel.plan_gate import PlanGate


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
        target = await existing_user(self._users, user_id)
        book = await self._authority.book()
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective(target.role_ids), "user")
        if target.is_active is self.active:
            return target
        if not self.active:
            await self._authority.check_keeps_an_owner(target, stays_owner=False, book=book)
        updated = await self._store(user_id)
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

    async def _store(self, user_id: str) -> User | None:
        return await self._users.update(user_id, {"is_active": self.active})


class ActivateUser(_SetActive):
    """Let a deactivated user sign in again (`users:activate`).

    Rules: not yourself (403); not a user holding permissions you do not (403); activating
    an active user changes nothing; the user takes a seat of the tenant's plan (402
    `plan_limit_reached` when none is left). Audited: `user.activated`.
    """

    active = True

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        sessions: SessionEnder,
        auditor: Auditor,
        gate: PlanGate,
    ) -> None:
        super().__init__(users, authority, sessions, auditor)
        self._gate = gate

    async def _store(self, user_id: str) -> User | None:
        async with self._gate.admitting(LimitName.SEATS):
            return await super()._store(user_id)


class DeactivateUser(_SetActive):
    """Stop a user from signing in (`users:activate`); their sessions end at once.

    Rules: not yourself (403); not a user holding permissions you do not (403); not the
    tenant's last active owner (409); deactivating an inactive user changes nothing.
    Audited: `user.deactivated`.
    """

    active = False
