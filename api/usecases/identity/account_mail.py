"""Emails of the account flows, sent best effort (`Mailer`): a mail outage never changes
(or reveals) a flow's answer."""

from __future__ import annotations

from api.domain.email.messages import EmailTemplate
from api.domain.identity.auth import AuthPolicy, OneTimeTokens
from api.domain.identity.users import User
from api.usecases.identity.rules import EMAIL_VERIFICATION
from api.usecases.kernel.mailer import Mailer


async def send_verification(
    user: User, one_time: OneTimeTokens, mailer: Mailer, policy: AuthPolicy
) -> None:
    """Replace any outstanding verification link of `user` with a new one, by email."""
    assert user.id is not None  # noqa: S101
    await one_time.revoke_for_user(purpose=EMAIL_VERIFICATION, user_id=user.id)
    ttl = policy.verification_ttl_seconds
    token = await one_time.issue(
        purpose=EMAIL_VERIFICATION, user_id=user.id, tenant_id=user.tenant_id, ttl_seconds=ttl
    )
    await mailer.send(
        user.email,
        EmailTemplate.VERIFY_EMAIL,
        {
            "user_name": user.full_name,
            "verify_url": f"{policy.public_base_url}/verify-email?token={token}",
            "expires_minutes": ttl // 60,
        },
    )
