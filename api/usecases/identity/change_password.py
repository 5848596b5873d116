"""Changing one's own password, knowing the current one."""

from __future__ import annotations

from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import OneTimeTokens, PasswordHasher, Principal
from api.domain.identity.users import User
from api.usecases.identity.account_security import AccountSecurity
from api.usecases.identity.reauthenticate import Reauthenticate, Refusals
from api.usecases.identity.rules import PASSWORD_RESET
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.passwords import PasswordRules

WRONG_CURRENT_PASSWORD = "The current password is not correct."  # noqa: S105 - a message
CHANGE_REFUSALS = Refusals(
    impersonating="A password cannot be changed while impersonating.",
    wrong_password=WRONG_CURRENT_PASSWORD,
    failed_action="user.password_change_failed",
)


class ChangePassword:
    """Change one's own password, knowing the current one (tenant users and platform admins).

    Rules: not through impersonation (403); the current password must match (401,
    attempts limited per user: 429); the new one meets the policy and differs from the
    current one (422). Then every session of the user ends, the caller's included (the
    client signs in again), and outstanding reset links stop working.
    """

    def __init__(
        self,
        accounts: Accounts,
        hasher: PasswordHasher,
        one_time: OneTimeTokens,
        security: AccountSecurity,
        auditor: Auditor,
        passwords: PasswordRules,
        reauthenticate: Reauthenticate,
        notices: SecurityNotices,
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._one_time = one_time
        self._security = security
        self._auditor = auditor
        self._passwords = passwords
        self._reauthenticate = reauthenticate
        self._notices = notices

    async def execute(self, principal: Principal, current: str, new: str) -> None:
        user = await self._reauthenticate.user(principal, current, CHANGE_REFUSALS)
        self._passwords.check_local(new, email=user.email, field="new_password")
        if new == current:
            raise InvalidInput(
                "The password does not meet the policy.",
                [FieldProblem(("new_password",), "must differ from the current password")],
            )
        await self._passwords.check(new, email=user.email, field="new_password")
        await self._update(user, new)

    async def _update(self, user: User, new: str) -> None:
        assert user.id is not None  # noqa: S101
        await self._accounts.update(user.id, {"password_hash": await self._hasher.hash(new)})
        await self._one_time.revoke_for_user(purpose=PASSWORD_RESET, user_id=user.id)
        ended = await self._security.end_all_sessions(user)
        await self._security.clear_lockout(user)
        await self._auditor.record(
            "user.password_changed", "user", user.id, actor_id=user.id,
            changes={"sessions_ended": len(ended)},
        )  # fmt: skip
        await self._notices.send(user, SecurityChange.PASSWORD_CHANGED)
