"""Sending a new verification link, the same answer for any address."""

from __future__ import annotations

from api.domain.identity.auth import AuthPolicy, OneTimeTokens, RateLimiter
from api.domain.identity.users import normalize_email
from api.domain.tenancy import current_tenant
from api.usecases.identity.account_mail import send_verification
from api.usecases.identity.rules import limit_address_requests, pending_verification
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import Mailer


class ResendVerification:
    """Send a new verification link; the answer is the same whether or not the address has
    an account, or needs one.

    Rules: limited per IP and per address (429, for unknown addresses too); a link is
    sent only to an existing, unverified account of this tenant that is active or pending
    (never to a deactivated one), replacing older links.
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
        await limit_address_requests(self._limiter, "verify-resend", tenant_id, email, self._policy)
        user = await self._accounts.by_email(email)
        if user is None or user.email_verified:
            return
        if not user.is_active and not pending_verification(user):
            return
        await send_verification(user, self._one_time, self._mailer, self._policy)
        await self._auditor.record(
            "auth.verification_requested", "user", user.id, actor_id=None,
            changes={"email": email},
        )  # fmt: skip
