"""Telling users by email when the way they sign in changed (ASVS 2.2.3, 2.5.x): a
password changed or reset, two-factor sign-in turned on or off, a recovery code used or
new ones made, the sign-in email or phone changed by an admin, the account deleted."""

from __future__ import annotations

from enum import StrEnum

from api.common.clock import utcnow
from api.domain.email.messages import EmailTemplate
from api.domain.identity.auth import AuthPolicy
from api.domain.identity.users import User
from api.usecases.kernel.mailer import Mailer


class SecurityChange(StrEnum):
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a change's name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a change's name
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_RESET = "mfa_reset"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed"
    EMAIL_CHANGED = "email_changed"
    PHONE_CHANGED = "phone_changed"
    ACCOUNT_DELETED = "account_deleted"


WHAT: dict[SecurityChange, str] = {
    SecurityChange.PASSWORD_CHANGED: "Your password was changed.",
    SecurityChange.PASSWORD_RESET: "Your password was reset with a link sent to this address.",
    SecurityChange.MFA_ENABLED: "Two-factor sign-in was turned on for your account.",
    SecurityChange.MFA_DISABLED: "Two-factor sign-in was turned off for your account.",
    SecurityChange.MFA_RESET: "An administrator turned your two-factor sign-in off.",
    SecurityChange.RECOVERY_CODE_USED: "One of your two-factor recovery codes was used.",
    SecurityChange.RECOVERY_CODES_RENEWED: (
        "New two-factor recovery codes were made; the old ones no longer work."
    ),
    SecurityChange.EMAIL_CHANGED: "An administrator changed the email you sign in with.",
    SecurityChange.PHONE_CHANGED: (
        "An administrator changed the phone number your sign-in codes go to."
    ),
    SecurityChange.ACCOUNT_DELETED: "Your account was deleted.",
}


class SecurityNotices:
    """Queues a security notice to a tenant user (the `security_notice` email).

    A notice that cannot be queued is logged by the `Mailer`, never raised: the change has
    happened and its answer does not wait on mail. Platform admins get none (the email
    outbox is per tenant). The notice says what changed and when, never a secret.
    """

    def __init__(self, mailer: Mailer, policy: AuthPolicy) -> None:
        self._mailer = mailer
        self._policy = policy

    async def send(
        self, user: User, change: SecurityChange, *, detail: str = "", to: str | None = None
    ) -> None:
        """Tell `user` (at `to`, else their current address) that `change` happened."""
        if user.tenant_id is None:
            return
        await self._mailer.send(
            to or user.email,
            EmailTemplate.SECURITY_NOTICE,
            {
                "user_name": user.full_name,
                "change": WHAT[change],
                "detail": detail,
                "changed_at": utcnow().strftime("%Y-%m-%d %H:%M UTC"),
                "login_url": f"{self._policy.public_base_url}/login",
            },
        )
