"""Editing a user's profile (name, email, phone)."""

from __future__ import annotations

from api.common.locales import e164
from api.domain.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from api.domain.identity.auth import OneTimeTokens, Principal
from api.domain.identity.users import User, UserRepository, normalize_email
from api.domain.permissions import Permission
from api.usecases.identity.rules import EMAIL_VERIFICATION, PASSWORD_RESET
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import (
    Authority,
    audit_extra,
    check_may_manage,
    require_permission,
)


class UpdateUser:
    """Edit a user's profile: `full_name`, `email` and `phone`.

    Rules: anyone may edit their own `full_name`; editing another user needs `users:write`
    and every permission that user holds (403); nobody changes their own email here (403);
    a new email must be free in the tenant (409) and is no longer verified, and the reset
    and verification links sent to the old address stop working. `phone` (E.164, or ""
    to clear it; 422 when it is no valid number) is where sign-in codes go by WhatsApp,
    so, like the email, nobody changes their own here (403). Audited: `user.updated`
    with the changed fields (nothing is written when nothing changes).
    """

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        one_time_tokens: OneTimeTokens,
        auditor: Auditor,
        notices: SecurityNotices,
    ) -> None:
        self._users = users
        self._authority = authority
        self._tokens = one_time_tokens
        self._auditor = auditor
        self._notices = notices

    async def execute(
        self,
        principal: Principal,
        user_id: str,
        *,
        full_name: str | None,
        email: str | None,
        phone: str | None = None,
    ) -> User:
        if full_name is None and email is None and phone is None:
            raise InvalidInput("Nothing to change: give `full_name`, `email` or `phone`.")
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
        if phone is not None:
            number = _phone(phone)
            if number != target.phone:
                if is_self:
                    raise Forbidden("You cannot change your own phone number here.")
                changes["phone"] = number
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
        if "email" in changes:  # told at the address it was, which may be the victim's
            await self._notices.send(
                target, SecurityChange.EMAIL_CHANGED,
                detail=f"It is now {changes['email']}.", to=target.email,
            )  # fmt: skip
        if "phone" in changes:
            await self._notices.send(updated, SecurityChange.PHONE_CHANGED)
        return updated


def _phone(raw: str) -> str | None:
    """The number in E.164, None for "" (no number); 422 on `phone` otherwise."""
    if not raw.strip():
        return None
    number = e164(raw)
    if number is None:
        raise InvalidInput(
            "Invalid phone number.",
            [FieldProblem(("phone",), "not a valid international number (E.164, +...)")],
        )
    return number
