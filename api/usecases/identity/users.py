"""Managing the tenant's users: list, read, create (or invite), edit, delete.

Roles and the active flag are changed by the use cases in `user_admin.py`. The shared
authorisation rules (granting, managing someone above you, the last owner) live in
`authorization.py`.
"""

from __future__ import annotations

from api.domain.email.messages import EmailTemplate
from api.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from api.domain.identity.auth import AuthPolicy, OneTimeTokens, PasswordHasher, Principal
from api.domain.identity.users import (
    User,
    UserPage,
    UserRepository,
    check_password_policy,
    normalize_email,
)
from api.domain.permissions import MEMBER_ROLE, Permission
from api.domain.tenancy import current_tenant
from api.usecases.identity.account import EMAIL_VERIFICATION, INVITATION, PASSWORD_RESET
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import (
    Authority,
    SessionEnder,
    audit_extra,
    check_can_grant,
    check_may_manage,
    require_permission,
)
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.mailer import QueueEmail


class ListUsers:
    """A page of the tenant's users (`users:read`), oldest first.

    Rules: `query` matches the start of the email or of any word of the name, literally;
    `is_active` and `role_id` narrow the list; an unknown role id matches nobody.
    """

    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def execute(
        self,
        principal: Principal,
        *,
        query: str | None,
        is_active: bool | None,
        role_id: str | None,
        page: int,
        page_size: int,
    ) -> UserPage:
        require_permission(principal, Permission.USERS_READ)
        return await self._users.search(
            query=query,
            is_active=is_active,
            role_id=role_id,
            skip=(page - 1) * page_size,
            limit=page_size,
        )


class GetUser:
    """One user of the tenant: with `users:read`, or the caller's own account."""

    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def execute(self, principal: Principal, user_id: str) -> User:
        if user_id != principal.user_id:
            require_permission(principal, Permission.USERS_READ)
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound(USER_NOT_FOUND)
        return user


class CreateUser:
    """An administrator adds a user to the tenant (`users:write`).

    Rules: the email is unique in the tenant (409); with `role_ids` the actor also needs
    `users:manage_roles`, every id must be a role of this tenant (422), and the actor must
    hold every permission those roles grant (403); without `role_ids` the user gets the
    tenant's `member` role, and the same grant rule applies to it. With a password (the
    policy applies) the user can sign in at once; without one the user has no password and
    is invited by email with a single-use, expiring link. If the invitation cannot be
    queued the user is not kept (503, safe to retry). Audited: `user.created`, and
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
        policy: AuthPolicy,
    ) -> None:
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
            check_password_policy(
                password, email=email, min_length=self._policy.password_min_length
            )
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
        now = stored_now()
        user = await self._users.add(
            User(
                tenant_id=current_tenant(),
                email=email,
                full_name=full_name,
                password_hash=await self._hasher.hash(password) if password else None,
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


class UpdateUser:
    """Edit a user's profile: `full_name`, and `email`.

    Rules: anyone may edit their own `full_name`; editing another user needs `users:write`
    and every permission that user holds (403); nobody changes their own email here (403);
    a new email must be free in the tenant (409) and is no longer verified, and the reset
    and verification links sent to the old address stop working. Audited: `user.updated`
    with the changed fields (nothing is written when nothing changes).
    """

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        one_time_tokens: OneTimeTokens,
        auditor: Auditor,
    ) -> None:
        self._users = users
        self._authority = authority
        self._tokens = one_time_tokens
        self._auditor = auditor

    async def execute(
        self, principal: Principal, user_id: str, *, full_name: str | None, email: str | None
    ) -> User:
        if full_name is None and email is None:
            raise InvalidInput("Nothing to change: give `full_name` or `email`.")
        is_self = user_id == principal.user_id
        if not is_self:
            require_permission(principal, Permission.USERS_WRITE)
        target = await self._users.get(user_id)
        if target is None:
            raise NotFound(USER_NOT_FOUND)
        if not is_self:
            book = await self._authority.book()
            held = await self._authority.held_by(principal, book)
            check_may_manage(held, book.effective(target.role_ids), "user")
        changes: dict[str, object] = {}
        if full_name is not None and full_name != target.full_name:
            changes["full_name"] = full_name
        if email is not None and normalize_email(email) != target.email:
            if is_self:
                raise Forbidden("You cannot change your own email here.")
            changes["email"] = normalize_email(email)
            changes["email_verified"] = False
        if not changes:
            return target
        updated = await self._users.update(user_id, changes)
        if updated is None:
            raise NotFound(USER_NOT_FOUND)
        if "email" in changes:
            for purpose in (PASSWORD_RESET, EMAIL_VERIFICATION):
                await self._tokens.revoke_for_user(purpose=purpose, user_id=user_id)
        before = {key: getattr(target, key) for key in changes}
        await self._auditor.record(
            "user.updated", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, diff(before, changes)),
        )  # fmt: skip
        return updated


class DeleteUser:
    """Delete a user (`users:delete`) and end their sessions at once.

    Rules: not yourself (409); not a user holding permissions you do not (403); not the
    tenant's last active owner (409). Audited: `user.deleted`.
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

    async def execute(self, principal: Principal, user_id: str) -> None:
        require_permission(principal, Permission.USERS_DELETE)
        if user_id == principal.user_id:
            raise Conflict("You cannot delete your own account here.")
        target = await self._users.get(user_id)
        if target is None:
            raise NotFound(USER_NOT_FOUND)
        book = await self._authority.book()
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective(target.role_ids), "user")
        await self._authority.check_keeps_an_owner(target, stays_owner=False, book=book)
        if not await self._users.delete(user_id):
            raise NotFound(USER_NOT_FOUND)
        await self._sessions.end([user_id])
        await self._auditor.record(
            "user.deleted", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"email": target.email,
                                            "full_name": target.full_name}),
        )  # fmt: skip
