"""Making a new set of MFA recovery codes, which replaces the unused ones."""

from __future__ import annotations

from api.domain.errors import Conflict
from api.domain.identity.auth import Principal, RecoveryCodes
from api.usecases.identity.mfa_codes import MfaCodes, account_for_mfa_change, new_recovery_set
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor


class RenewRecoveryCodes:
    """A new set of recovery codes for the caller, answered this once.

    Rules: own account, no impersonation (403); MFA must be on (409); a current code from
    the authenticator, or one of the recovery codes (spent), is checked by `MfaCodes` (401
    `invalid_mfa_code`, 429). Every code of the previous set stops working.
    """

    def __init__(
        self,
        accounts: Accounts,
        codes: MfaCodes,
        recovery_codes: RecoveryCodes,
        auditor: Auditor,
        notices: SecurityNotices,
    ) -> None:
        self._accounts = accounts
        self._codes = codes
        self._recovery_codes = recovery_codes
        self._auditor = auditor
        self._notices = notices

    async def execute(self, principal: Principal, code: str) -> list[str]:
        user = await account_for_mfa_change(self._accounts, principal)
        assert user.id is not None  # noqa: S101
        if not user.mfa_enabled:
            raise Conflict("Two-factor sign-in is not on.")
        await self._codes.check(user, code, recovery=True)
        shown, stored = new_recovery_set(self._recovery_codes, user.id)
        await self._accounts.update(user.id, {"mfa_recovery_codes": stored})
        await self._auditor.record(
            "user.mfa_recovery_codes_renewed", "user", user.id, actor_id=user.id,
            changes={"recovery_codes_left": len(stored)},
        )  # fmt: skip
        await self._notices.send(user, SecurityChange.RECOVERY_CODES_RENEWED)
        return shown
