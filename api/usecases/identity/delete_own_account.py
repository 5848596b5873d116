"""A tenant user deleting their own account, after proving it is them."""

from __future__ import annotations

from api.domain.errors import Forbidden, InvalidMfaCode, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.users import User, UserRepository
from api.usecases.identity.mfa_codes import MfaCodes
from api.usecases.identity.reauthenticate import Reauthenticate, Refusals
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import Authority, SessionEnder

DELETE_REFUSALS = Refusals(
    impersonating="An account cannot be deleted while impersonating.",
    wrong_password="The password is not correct.",  # noqa: S106 - a message
    failed_action="user.deletion_refused",
)


class DeleteOwnAccount:
    """Delete the caller's own account (the right to erasure of a tenant's user).

    Rules: a tenant user's own access token, not through impersonation (403; API keys are
    refused by the route); platform admins are removed by the operator (403). The password
    must match (401, attempts limited per user with the password change's budget: 429);
    with MFA on, a current code or a recovery code too (401 `invalid_mfa_code`). Not the
    tenant's last active owner (409: make someone else owner first). Then the user's
    record is deleted and every session ends at once, as when an admin deletes them; what
    they did stays (messages, notes, audit entries name their id). Audited: `user.deleted`
    with `self: true`. Returns the deleted user (the route removes their avatar).
    """

    def __init__(
        self,
        users: UserRepository,
        reauthenticate: Reauthenticate,
        codes: MfaCodes,
        authority: Authority,
        sessions: SessionEnder,
        auditor: Auditor,
        notices: SecurityNotices,
    ) -> None:
        self._users = users
        self._reauthenticate = reauthenticate
        self._codes = codes
        self._authority = authority
        self._sessions = sessions
        self._auditor = auditor
        self._notices = notices

    async def execute(self, principal: Principal, password: str, code: str | None) -> User:
        if principal.is_platform:
            raise Forbidden("Platform admins are removed by the operator.")
        user = await self._reauthenticate.user(principal, password, DELETE_REFUSALS)
        assert user.id is not None  # noqa: S101 - stored users have ids
        if user.mfa_enabled:
            if not code:
                raise InvalidMfaCode(
                    "Two-factor sign-in is on: send a current code or a recovery code."
                )
            await self._codes.check(user, code, recovery=True)
        book = await self._authority.book()
        await self._authority.check_keeps_an_owner(user, stays_owner=False, book=book)
        if not await self._users.delete(user.id):
            raise NotFound(USER_NOT_FOUND)
        await self._sessions.end([user.id])
        await self._auditor.record(
            "user.deleted", "user", user.id, actor_id=user.id,
            changes={"email": user.email, "full_name": user.full_name, "self": True},
        )  # fmt: skip
        await self._notices.send(user, SecurityChange.ACCOUNT_DELETED)
        return user
