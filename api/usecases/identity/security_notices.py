"""Telling users by email when the way they sign in changed (ASVS 2.2.3, 2.5.x): a
password changed or reset, two-factor sign-in turned on or off, a recovery code used or
new ones made, the sign-in email or phone changed by an admin, the account deleted, a
sign-in from a new device; for platform admins, a password set by the operator."""

from __future__ import annotations

from enum import StrEnum

from api.common.clock import utcnow
from api.common.request_context import current_client
from api.domain.email.messages import PLATFORM_MAIL, EmailTemplate
from api.domain.identity.auth import AuthPolicy, SessionStore
from api.domain.identity.users import User
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.kernel.mailer import Mailer
from api.usecases.kernel.sessions import kept_user_agent


class SecurityChange(StrEnum):
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a change's name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a change's name
    PASSWORD_SET_BY_OPERATOR = "password_set_by_operator"  # noqa: S105 - a change's name
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_RESET = "mfa_reset"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed"
    EMAIL_CHANGED = "email_changed"
    PHONE_CHANGED = "phone_changed"
    ACCOUNT_DELETED = "account_deleted"
    NEW_SIGN_IN = "new_sign_in"


WHAT: dict[SecurityChange, str] = {
    SecurityChange.PASSWORD_CHANGED: "Your password was changed.",
    SecurityChange.PASSWORD_RESET: "Your password was reset with a link sent to this address.",
    SecurityChange.PASSWORD_SET_BY_OPERATOR: "The platform's operator set a new password for you.",
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
    SecurityChange.NEW_SIGN_IN: "Someone signed in to your account from a new device.",
}


# What to do if the change was not theirs.
IF_NOT_YOU = (
    'reset your password now ("Forgot password" on the sign-in page) and tell your administrator.'
)
IF_NOT_YOU_PLATFORM = (
    "change your password now if you still can, and ask the platform's operator to secure "
    "your account (they can reset your password and two-factor sign-in)."
)


class SecurityNotices:
    """Queues a security notice to a user (the `security_notice` email).

    A notice that cannot be queued is logged by the `Mailer`, never raised: the change has
    happened and its answer does not wait on mail. It is queued in the user's own tenant
    whoever acts, a platform admin's as the platform's own mail (`PLATFORM_MAIL`, dressed
    as the product's). The notice says what changed and when, never a secret.
    """

    def __init__(self, mailer: Mailer, policy: AuthPolicy) -> None:
        self._mailer = mailer
        self._policy = policy

    async def send(
        self, user: User, change: SecurityChange, *, detail: str = "", to: str | None = None
    ) -> None:
        """Tell `user` (at `to`, else their current address) that `change` happened."""
        if user.tenant_id is not None:
            outbox, if_not_you = TenantId(user.tenant_id), IF_NOT_YOU
        else:  # a platform admin: no reset link in the platform plane
            outbox, if_not_you = PLATFORM_MAIL, IF_NOT_YOU_PLATFORM
        with tenant_context(outbox):
            await self._mailer.send(
                to or user.email,
                EmailTemplate.SECURITY_NOTICE,
                {
                    "user_name": user.full_name,
                    "change": WHAT[change],
                    "detail": detail,
                    "changed_at": utcnow().strftime("%Y-%m-%d %H:%M UTC"),
                    "if_not_you": if_not_you,
                    "login_url": f"{self._policy.public_base_url}/login",
                },
            )


class SignInNotices:
    """After a sign-in: a notice when it came from a client (user agent) none of the
    user's sessions on record used, unless it is their first sign-in (no session before:
    nothing to compare with). The notice names the address and the client."""

    def __init__(self, sessions: SessionStore, notices: SecurityNotices) -> None:
        self._sessions = sessions
        self._notices = notices

    async def after(self, user: User, session_id: str) -> None:
        if user.id is None:
            return
        ip, agent = current_client()
        agent = kept_user_agent(agent)
        before = await self._sessions.clients_before(user.tenant_id, user.id, session_id)
        if not before or agent in before:
            return
        detail = f"From {ip or 'an unknown address'}, with {agent or 'an unnamed client'}."
        await self._notices.send(user, SecurityChange.NEW_SIGN_IN, detail=detail)
