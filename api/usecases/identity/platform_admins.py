"""Platform admins managed by the operator (`scripts/cli admins ...`): the only way to add
a second platform admin, and the way back for one who forgot their password or lost both
their authenticator and their recovery codes (the platform plane has no reset link and no
admin above them). Whoever runs these commands has the servers' configuration, so they
act as the operator (`actor_id` null in the audit log), like the tenant commands.

Rules: addresses are normalized and unique among platform admins (409); a new password
meets the policy (422: length, not the email, not breached); a password reset ends every
session of the admin, spends their reset links and clears a sign-in lockout; an MFA reset
erases the seed and the recovery codes (409 when MFA is off) and ends every session; a
deactivated admin's sessions end at once and they cannot sign in; the last active admin
cannot be deactivated (409), even by two deactivations at once (each checks after its
write and undoes it when no active admin is left). The admin is told by email of every
change to how they sign in (a security notice through the platform's own mail), and
each change is audited as `platform_admin.*`, never with a password.
"""

from __future__ import annotations

from pydantic import BaseModel

from api.common.clock import utcnow
from api.domain.errors import Conflict, NotFound
from api.domain.identity.auth import OneTimeTokens, PasswordHasher
from api.domain.identity.users import PlatformUserRepository, User, normalize_email
from api.usecases.identity.account_security import AccountSecurity
from api.usecases.identity.mfa_codes import mfa_off
from api.usecases.identity.rules import PASSWORD_RESET
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.mailer import normalize_address
from api.usecases.kernel.passwords import PasswordRules

ADMIN_NOT_FOUND = "No platform admin has this email."
LAST_ADMIN = "The last active platform admin cannot be deactivated."


class PlatformAdminView(BaseModel):
    """What the operator sees of a platform admin (no hash, seed or codes)."""

    id: str
    email: str
    full_name: str
    is_active: bool
    mfa_enabled: bool
    created_at: str

    @classmethod
    def of(cls, user: User) -> PlatformAdminView:
        return cls(
            id=user.id or "",
            email=user.email,
            full_name=user.full_name,
            is_active=user.is_active,
            mfa_enabled=user.mfa_enabled,
            created_at=user.created_at.isoformat(),
        )


class PlatformAdmins:
    """The operator's platform admin commands (see the module's doc)."""

    def __init__(
        self,
        admins: PlatformUserRepository,
        hasher: PasswordHasher,
        passwords: PasswordRules,
        one_time: OneTimeTokens,
        security: AccountSecurity,
        auditor: Auditor,
        notices: SecurityNotices,
    ) -> None:
        self._admins = admins
        self._hasher = hasher
        self._passwords = passwords
        self._one_time = one_time
        self._security = security
        self._auditor = auditor
        self._notices = notices

    async def list(self) -> list[User]:
        return await self._admins.all()

    async def add(self, email: str, full_name: str, password: str) -> User:
        email = normalize_address(email, "email")
        await self._passwords.check(password, email=email)
        if await self._admins.get_by_email(email) is not None:
            raise Conflict("A platform admin already has this email.")
        now = stored_now()  # as the database keeps it: the printed admin reads the same later
        admin = await self._admins.add(
            User(
                tenant_id=None, email=email, full_name=full_name.strip() or email,
                password_hash=await self._hasher.hash(password), email_verified=True,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        await self._audit("platform_admin.created", admin, {"email": email})
        return admin

    async def reset_password(self, email: str, password: str) -> tuple[User, int]:
        """The admin with a new password, and how many of their sessions ended."""
        admin = await self._existing(email)
        await self._passwords.check(password, email=admin.email)
        updated = await self._update(admin, {"password_hash": await self._hasher.hash(password)})
        await self._one_time.revoke_for_user(purpose=PASSWORD_RESET, user_id=updated.id or "")
        ended = await self._security.end_all_sessions(updated)
        await self._security.clear_lockout(updated)
        await self._audit("platform_admin.password_reset", updated, {"sessions_ended": len(ended)})
        await self._notices.send(updated, SecurityChange.PASSWORD_SET_BY_OPERATOR)
        return updated, len(ended)

    async def reset_mfa(self, email: str) -> tuple[User, int]:
        """The admin with MFA off, and how many of their sessions ended."""
        admin = await self._existing(email)
        if not admin.mfa_enabled:
            raise Conflict("This platform admin's two-factor sign-in is not on.")
        updated = await self._update(admin, mfa_off())
        ended = await self._security.end_all_sessions(updated)
        await self._audit(
            "platform_admin.mfa_reset", updated,
            {"mfa_enabled": {"from": True, "to": False}, "sessions_ended": len(ended)},
        )  # fmt: skip
        await self._notices.send(
            updated, SecurityChange.MFA_RESET, detail="The platform's operator did it."
        )
        return updated, len(ended)

    async def set_active(self, email: str, active: bool) -> User:
        admin = await self._existing(email)
        if admin.is_active is active:
            return admin
        if not active and not await self._another_active(admin):
            raise Conflict(LAST_ADMIN)
        updated = await self._update(admin, {"is_active": active})
        if not active:
            if not await self._another_active(updated):  # another deactivation won the race
                await self._update(updated, {"is_active": True})
                raise Conflict(LAST_ADMIN)
            await self._security.end_all_sessions(updated)
        action = "platform_admin.activated" if active else "platform_admin.deactivated"
        await self._audit(action, updated, {"is_active": {"from": not active, "to": active}})
        return updated

    async def _existing(self, email: str) -> User:
        admin = await self._admins.get_by_email(normalize_email(email))
        if admin is None or admin.id is None:
            raise NotFound(ADMIN_NOT_FOUND)
        return admin

    async def _update(self, admin: User, changes: dict[str, object]) -> User:
        updated = await self._admins.update(admin.id or "", {**changes, "updated_at": utcnow()})
        if updated is None:
            raise NotFound(ADMIN_NOT_FOUND)
        return updated

    async def _another_active(self, admin: User) -> bool:
        return any(a.is_active and a.id != admin.id for a in await self._admins.all())

    async def _audit(self, action: str, admin: User, changes: dict[str, object]) -> None:
        await self._auditor.record(
            action, "user", admin.id, actor_id=None, tenant_id=None, changes=changes,
        )  # fmt: skip
