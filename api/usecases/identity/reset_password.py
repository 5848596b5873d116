"""Setting a new password with a reset or invitation link."""

from __future__ import annotations

from api.common.request_context import current_client
from api.domain.errors import InvalidToken
from api.domain.identity.auth import AuthPolicy, OneTimeTokens, PasswordHasher, RateLimiter
from api.domain.tenancy import current_tenant
from api.usecases.identity.account_security import AccountSecurity
from api.usecases.identity.rules import INVITATION, PASSWORD_RESET
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.passwords import PasswordRules
from api.usecases.kernel.rate_limits import enforce_rate

BAD_LINK = "This link is not valid or has expired; ask for a new one."


class ResetPassword:
    """Set a new password with a `password_reset` or `invitation` token.

    Rules: the token is single-use, expiring, and for this tenant (else `InvalidToken`,
    400; a token presented in another tenant is spent all the same); the password policy
    applies (422; the length rules are checked before the token is spent). Then: the
    address counts as verified (the link reached it), every other outstanding reset or
    invitation link of the user stops working, every session of the user ends, and a
    sign-in lockout is cleared.
    """

    def __init__(
        self,
        accounts: Accounts,
        hasher: PasswordHasher,
        one_time: OneTimeTokens,
        security: AccountSecurity,
        limiter: RateLimiter,
        auditor: Auditor,
        passwords: PasswordRules,
        policy: AuthPolicy,
        notices: SecurityNotices,
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._one_time = one_time
        self._security = security
        self._limiter = limiter
        self._auditor = auditor
        self._passwords = passwords
        self._policy = policy
        self._notices = notices

    async def execute(self, token: str, new_password: str) -> None:
        tenant_id = current_tenant()
        ip, _ = current_client()
        await enforce_rate(self._limiter, f"reset:ip:{ip}", self._policy.sensitive_rate_per_ip)
        await self._passwords.check(new_password, email="", field="new_password")
        purpose = PASSWORD_RESET
        claimed = await self._one_time.consume(purpose=PASSWORD_RESET, token=token)
        if claimed is None:
            purpose = INVITATION
            claimed = await self._one_time.consume(purpose=INVITATION, token=token)
        if claimed is None or claimed[1] != tenant_id:
            raise InvalidToken(BAD_LINK)
        user = await self._accounts.by_id(claimed[0])
        if user is None or user.id is None:
            raise InvalidToken(BAD_LINK)
        self._passwords.check_local(new_password, email=user.email, field="new_password")
        await self._accounts.update(
            user.id,
            {"password_hash": await self._hasher.hash(new_password), "email_verified": True},
        )
        for spent in (PASSWORD_RESET, INVITATION):
            await self._one_time.revoke_for_user(purpose=spent, user_id=user.id)
        ended = await self._security.end_all_sessions(user)
        await self._security.clear_lockout(user)
        action = "auth.password_reset" if purpose == PASSWORD_RESET else "user.invitation_accepted"
        await self._auditor.record(
            action, "user", user.id, actor_id=user.id,
            changes={"sessions_ended": len(ended)},
        )  # fmt: skip
        if purpose == PASSWORD_RESET:  # accepting an invitation changes nothing known
            await self._notices.send(user, SecurityChange.PASSWORD_RESET)
