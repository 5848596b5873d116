"""Forgot password: a reset link by email, the same answer for any address."""

from __future__ import annotations

from api.domain.email.messages import EmailTemplate
from api.domain.identity.auth import AuthPolicy, OneTimeTokens, RateLimiter
from api.domain.identity.users import normalize_email
from api.domain.tenancy import current_tenant
from api.usecases.identity.rules import PASSWORD_RESET, limit_address_requests
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import Mailer


class RequestPasswordReset:
    """Email a password-reset link; the answer is the same whether or not the address has
    an account.

    Rules: limited per IP and per address (429, for unknown addresses too); only an
    existing, active account of this tenant gets a link; a new link replaces older ones;
    the link is single-use and expires (`reset_ttl_seconds`); it goes out through the job
    queue. The audit entry never holds the token.
    """

    def __init__(
        self,
        accounts: Accounts,
        one_time: OneTimeTokens,
        mailer: Mailer,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._one_time = one_time
        self._mailer = mailer
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy

    async def execute(self, email: str) -> None:
        tenant_id = current_tenant()
        email = normalize_email(email)
        await limit_address_requests(self._limiter, "forgot", tenant_id, email, self._policy)
        user = await self._accounts.by_email(email)
        if user is None or user.id is None or not user.is_active:
            await self._auditor.record(
                "auth.password_reset_requested", "user", None, actor_id=None,
                changes={"email": email, "sent": False},
            )  # fmt: skip
            return
        await self._one_time.revoke_for_user(purpose=PASSWORD_RESET, user_id=user.id)
        ttl = self._policy.reset_ttl_seconds
        token = await self._one_time.issue(
            purpose=PASSWORD_RESET, user_id=user.id, tenant_id=tenant_id, ttl_seconds=ttl
        )
        sent = await self._mailer.send(
            user.email,
            EmailTemplate.PASSWORD_RESET,
            {
                "user_name": user.full_name,
                "reset_url": f"{self._policy.public_base_url}/reset-password?token={token}",
                "expires_minutes": ttl // 60,
            },
        )
        await self._auditor.record(
            "auth.password_reset_requested", "user", user.id, actor_id=None,
            changes={"email": email, "sent": sent},
        )  # fmt: skip
