"""An administrator adds a user, with a password or by invitation."""

from __future__ import annotations

from api.domain.email.messages import EmailTemplate
from api.domain.errors import Conflict, ServiceUnavailable
from api.domain.identity.auth import AuthPolicy, OneTimeTokens, PasswordHasher, Principal
from api.domain.identity.users import User, UserRepository, normalize_email
from api.domain.permissions import MEMBER_ROLE, Permission
from api.domain.plans import LimitName
from api.domain.tenancy import current_tenant
from api.usecases.identity.rules import INVITATION
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    audit_extra,
    check_can_grant,
    require_permission,
)
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.mailer import QueueEmail
from api.usecases.kernel.passwords import PasswordRules
from api.usecases.kernel.plan_gate import PlanGate


class CreateUser:
    """An administrator adds a user to the tenant (`users:write`).

    Rules: the email is unique in the tenant (409); with `role_ids` the actor also needs
    `users:manage_roles`, every id must be a role of this tenant (422), and the actor must
    hold every permission those roles grant (403); without `role_ids` the user gets the
    tenant's `member` role, and the same grant rule applies to it. With a password (the
    policy applies) the user can sign in at once; without one the user has no password and
    is invited by email with a single-use, expiring link. If the invitation cannot be
    queued the user is not kept (503, safe to retry). A new user takes a seat of the
    tenant's plan (402 `plan_limit_reached` when none is left). Audited: `user.created`, and
    `user.invited`.
    """

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        hasher: PasswordHasher,
        one_time_tokens: OneTimeTokens,
        queue_email: QueueEmail,
        auditor: Auditor,
        passwords: PasswordRules,
        policy: AuthPolicy,
        gate: PlanGate,
    ) -> None:
        self._gate = gate
        self._passwords = passwords
        self._users = users
        self._authority = authority
        self._hasher = hasher
        self._tokens = one_time_tokens
        self._queue_email = queue_email
        self._auditor = auditor
        self._policy = policy

    async def execute(
        self,
        principal: Principal,
        *,
        email: str,
        full_name: str,
        password: str | None,
        role_ids: list[str] | None,
    ) -> User:
        require_permission(principal, Permission.USERS_WRITE)
        email = normalize_email(email)
        if password is not None:
            await self._passwords.check(password, email=email)
        book = await self._authority.book()
        if role_ids is not None:
            require_permission(principal, Permission.USERS_MANAGE_ROLES)
            granted = book.known(role_ids, "role_ids")
        else:
            member = next((i for i, r in book.roles.items() if r.name == MEMBER_ROLE), None)
            granted = [member] if member else []
        check_can_grant(await self._authority.held_by(principal, book), book.effective(granted))
        if await self._users.get_by_email(email) is not None:
            raise Conflict("A user with this email already exists.")
        password_hash = await self._hasher.hash(password) if password else None
        now = stored_now()
        async with self._gate.admitting(LimitName.SEATS):  # 402 past the plan's seats
            user = await self._users.add(
                User(
                    tenant_id=current_tenant(),
                    email=email,
                    full_name=full_name,
                    password_hash=password_hash,
                    role_ids=granted,
                    created_at=now,
                    updated_at=now,
                )
            )
        assert user.id is not None  # noqa: S101 - stored users have ids
        if password is None:
            await self._invite(principal, user)
        await self._auditor.record(
            "user.created", "user", user.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"email": email, "full_name": full_name,
                                            "role_ids": granted, "invited": password is None}),
        )  # fmt: skip
        if password is None:
            await self._auditor.record(
                "user.invited", "user", user.id, actor_id=principal.user_id,
                changes=audit_extra(principal, {"email": email}),
            )  # fmt: skip
        return user

    async def _invite(self, principal: Principal, user: User) -> None:
        assert user.id is not None  # noqa: S101
        inviter = await self._users.get(principal.user_id)
        ttl = self._policy.invitation_ttl_seconds
        token = await self._tokens.issue(
            purpose=INVITATION, user_id=user.id, tenant_id=user.tenant_id, ttl_seconds=ttl
        )
        context: dict[str, str | int | None] = {
            "inviter_name": inviter.full_name if inviter else self._policy.issuer_name,
            "user_name": user.full_name,
            "accept_url": f"{self._policy.public_base_url}/accept-invitation?token={token}",
            "expires_hours": max(1, ttl // 3600),
        }
        try:
            await self._queue_email.execute(user.email, EmailTemplate.INVITATION, context)
        except ServiceUnavailable:
            await self._tokens.revoke_for_user(purpose=INVITATION, user_id=user.id)
            await self._users.delete(user.id)
            raise
