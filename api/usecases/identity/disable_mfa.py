"""Turning two-factor sign-in off with a current code or a recovery code."""

from __future__ import annotations

from api.domain.errors import Conflict
from api.domain.identity.auth import Principal
from api.usecases.identity.mfa_codes import MfaCodes, account_for_mfa_change, mfa_off
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor


class DisableMfa:
    """Turn MFA off with a current code; the seed is erased.

    Rules: own account, no impersonation (403); MFA must be on (409); the code, from the
    authenticator or a recovery code, is checked by `MfaCodes` (401 `invalid_mfa_code`,
    429). The seed and the unused recovery codes are erased.
    """

    def __init__(
        self, accounts: Accounts, codes: MfaCodes, auditor: Auditor, notices: SecurityNotices
    ) -> None:
        self._accounts = accounts
        self._codes = codes
        self._auditor = auditor
        self._notices = notices

    async def execute(self, principal: Principal, code: str) -> None:
        user = await account_for_mfa_change(self._accounts, principal)
        assert user.id is not None  # noqa: S101
        if not user.mfa_enabled:
            raise Conflict("Two-factor sign-in is not on.")
        await self._codes.check(user, code, recovery=True)
        await self._accounts.update(user.id, mfa_off())
        await self._auditor.record(
            "user.mfa_disabled", "user", user.id, actor_id=user.id,
            changes={"mfa_enabled": {"from": True, "to": False}},
        )  # fmt: skip
        await self._notices.send(user, SecurityChange.MFA_DISABLED)
