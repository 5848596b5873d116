"""Confirming an email address (which activates a pending registration)."""

from __future__ import annotations

from api.common.request_context import current_client
from api.domain.errors import InvalidToken
from api.domain.identity.auth import AuthPolicy, OneTimeTokens, RateLimiter
from api.domain.tenancy import current_tenant
from api.usecases.identity.account_security import AccountSecurity
from api.usecases.identity.rules import EMAIL_VERIFICATION, pending_verification
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.rate_limits import enforce_rate


class VerifyEmail:
    """Confirm an address with the token from a `verify_email` message.

    Rules: the token is single-use, expiring and for this tenant (else `InvalidToken`,
    400); the user's address becomes verified; a pending registration becomes active (and
    any lockout its sign-in attempts built up is cleared); other outstanding verification
    links of the user stop working.
    """

    def __init__(
        self,
        accounts: Accounts,
        one_time: OneTimeTokens,
        security: AccountSecurity,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._one_time = one_time
        self._security = security
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy

    async def execute(self, token: str) -> None:
        tenant_id = current_tenant()
        ip, _ = current_client()
        await enforce_rate(self._limiter, f"verify:ip:{ip}", self._policy.sensitive_rate_per_ip)
        claimed = await self._one_time.consume(purpose=EMAIL_VERIFICATION, token=token)
        if claimed is None or claimed[1] != tenant_id:
            raise InvalidToken("This verification link is not valid or has expired.")
        user = await self._accounts.by_id(claimed[0])
        if user is None or user.id is None:
            raise InvalidToken("This verification link is not valid or has expired.")
        activate = pending_verification(user)
        changes: dict[str, object] = {"email_verified": True}
        if activate:
            changes["is_active"] = True
        await self._accounts.update(user.id, changes)
        await self._one_time.revoke_for_user(purpose=EMAIL_VERIFICATION, user_id=user.id)
        if activate:
            await self._security.clear_lockout(user)
        await self._auditor.record(
            "user.email_verified", "user", user.id, actor_id=user.id,
            changes={"email_verified": True, "activated": activate},
        )  # fmt: skip
