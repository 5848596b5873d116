"""The second step of an MFA sign-in: a TOTP or recovery code trades the challenge for
tokens."""

from __future__ import annotations

from api.domain.errors import Unauthorized
from api.domain.identity.auth import TokenPair, TokenService
from api.domain.tenancy import current_tenant_or_none
from api.usecases.identity.mfa_codes import MfaCodes
from api.usecases.identity.security_notices import SignInNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.sessions import SessionIssuer


class VerifyMfaLogin:
    """Second step of an MFA sign-in: the challenge token and a TOTP code earn the tokens.

    Rules: the challenge is only valid in the plane it was issued in; guesses are limited
    per user; a code already accepted is refused for the rest of its window (no replay);
    one of the user's recovery codes is accepted instead of a TOTP code, once.
    """

    def __init__(
        self,
        accounts: Accounts,
        tokens: TokenService,
        codes: MfaCodes,
        issuer: SessionIssuer,
        auditor: Auditor,
        sign_ins: SignInNotices,
    ) -> None:
        self._accounts = accounts
        self._tokens = tokens
        self._codes = codes
        self._issuer = issuer
        self._auditor = auditor
        self._sign_ins = sign_ins

    async def execute(self, mfa_token: str, code: str) -> TokenPair:
        user_id, tenant_id = self._tokens.decode_mfa_challenge(mfa_token)
        if tenant_id != current_tenant_or_none():
            raise Unauthorized("This challenge is not valid here.")
        user = await self._accounts.by_id(user_id)
        if user is None or not user.is_active or not user.mfa_enabled or not user.mfa_secret:
            raise Unauthorized("Invalid or expired token.")
        await self._codes.check(user, code, recovery=True)
        tokens, session_id = await self._issuer.start(user)
        await self._auditor.record("auth.login_succeeded", "session", session_id, actor_id=user_id)
        await self._sign_ins.after(user, session_id)
        return tokens
