"""Two-factor sign-in with TOTP (RFC 6238): checking a code, and whose settings may change.

The seed is encrypted at rest (`SecretBox`) in `User.mfa_secret` and shown once, in the
setup answer; it is never returned, logged or audited afterwards. Setup stores a pending
seed (`mfa_enabled` stays false) that a first correct code turns on.

Recovery codes (`RecoveryCodes`) stand in for a TOTP code where the user may have lost
their authenticator (signing in, turning MFA off, making new recovery codes), never to
turn MFA on: each is spent by its first use, atomically, and only its keyed digest is
stored."""

from __future__ import annotations

import logging

from api.domain.errors import Forbidden, InvalidMfaCode, Unauthorized
from api.domain.identity.auth import (
    AuthPolicy,
    Principal,
    RateLimiter,
    RecoveryCodes,
    SecretBox,
    Totp,
)
from api.domain.identity.users import User
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.rate_limits import enforce_rate

log = logging.getLogger(__name__)

# A code is accepted for its own 30-second step and one step either side: ~90 seconds.
REPLAY_WINDOW_SECONDS = 120


def mfa_off() -> dict[str, object]:
    """What turning MFA off changes: no seed, no recovery codes."""
    return {"mfa_enabled": False, "mfa_secret": None, "mfa_recovery_codes": []}


def attempts_key(user_id: str) -> str:
    """The per-user budget of code guesses (the same key the MFA sign-in step uses)."""
    return f"mfa:user:{user_id}"


def used_code_key(user_id: str, code: str) -> str:
    return f"mfa:used:{user_id}:{code}"


class MfaCodes:
    """Checks a user's TOTP code: guesses limited per user (429), a wrong or unreadable
    code is `InvalidMfaCode` (401), and a code accepted once is refused for the rest of
    its validity window (no replay of an observed code). Where `recovery` allows it, one
    of the user's recovery codes is accepted instead, and spent."""

    def __init__(
        self,
        totp: Totp,
        secrets: SecretBox,
        recovery_codes: RecoveryCodes,
        accounts: Accounts,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
        notices: SecurityNotices,
    ) -> None:
        self._totp = totp
        self._secrets = secrets
        self._recovery_codes = recovery_codes
        self._accounts = accounts
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy
        self._notices = notices

    async def check(self, user: User, code: str, *, recovery: bool = False) -> None:
        """Accept `code` for `user` or raise; with `recovery`, a recovery code is spent."""
        assert user.id is not None  # noqa: S101 - stored users have ids
        await enforce_rate(self._limiter, attempts_key(user.id), self._policy.sensitive_rate_per_ip)
        digest = self._recovery_codes.digest(user.id, code) if recovery else None
        if digest is not None:
            await self._spend(user.id, digest)
            return
        code = code.replace(" ", "").strip()
        if not self._matches(user, code):
            await self._auditor.record("auth.mfa_failed", "user", user.id, actor_id=user.id)
            raise InvalidMfaCode("The code is not valid.")
        first_use = await self._limiter.hit(
            used_code_key(user.id, code), limit=1, window_seconds=REPLAY_WINDOW_SECONDS
        )
        if not first_use.allowed:
            raise InvalidMfaCode("This code was already used; wait for the next one.")

    async def _spend(self, user_id: str, digest: str) -> None:
        spent_by = await self._accounts.spend_recovery_code(user_id, digest)
        if spent_by is None:
            await self._auditor.record("auth.mfa_failed", "user", user_id, actor_id=user_id)
            raise InvalidMfaCode("The code is not valid.")
        left = len(spent_by.mfa_recovery_codes)
        await self._auditor.record(
            "auth.mfa_recovery_code_used", "user", user_id, actor_id=user_id,
            changes={"recovery_codes_left": left},
        )  # fmt: skip
        await self._notices.send(
            spent_by, SecurityChange.RECOVERY_CODE_USED, detail=f"{left} of them are left."
        )

    def _matches(self, user: User, code: str) -> bool:
        if not user.mfa_secret:
            return False
        try:
            secret = self._secrets.decrypt(user.mfa_secret)
        except ValueError:
            log.warning("the stored MFA secret of a user cannot be decrypted")
            return False
        return self._totp.verify(secret, code)


def new_recovery_set(codes: RecoveryCodes, user_id: str) -> tuple[list[str], list[str]]:
    """A fresh set of recovery codes: what the user is shown, and what is stored."""
    shown = codes.new_set()
    stored = [codes.digest(user_id, code) for code in shown]
    return shown, [digest for digest in stored if digest is not None]


async def account_for_mfa_change(accounts: Accounts, principal: Principal) -> User:
    """The caller's own account, for changes that only its owner may make."""
    if principal.actor_id is not None:
        raise Forbidden("Two-factor settings cannot be changed while impersonating.")
    user = await accounts.by_id(principal.user_id)
    if user is None or user.id is None or not user.is_active:
        raise Unauthorized("The account is not available.")
    return user
