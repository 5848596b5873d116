"""Turning two-factor sign-in on with a first code from the pending seed."""

from __future__ import annotations

from api.domain.errors import Conflict
from api.domain.identity.auth import Principal
from api.usecases.identity.mfa_codes import MfaCodes, account_for_mfa_change
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor


class EnableMfa:
    """Turn MFA on with a code from the pending seed.

    Rules: own account, no impersonation (403); a pending seed from setup is needed and MFA
    must be off (409); the code is checked by `MfaCodes` (401 `invalid_mfa_code`, 429).
    From now on a password sign-in only earns an MFA challenge.
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
        if user.mfa_enabled:
            raise Conflict("Two-factor sign-in is already on.")
        if not user.mfa_secret:
            raise Conflict("Start with /auth/mfa/setup.")
        await self._codes.check(user, code)
        await self._accounts.update(user.id, {"mfa_enabled": True})
        await self._auditor.record(
            "user.mfa_enabled", "user", user.id, actor_id=user.id,
            changes={"mfa_enabled": {"from": False, "to": True}},
        )  # fmt: skip
        await self._notices.send(user, SecurityChange.MFA_ENABLED)
