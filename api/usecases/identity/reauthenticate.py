"""The caller proving again, with their password, that it is them: before a change to
their own account that a stolen access token alone must not make."""

from __future__ import annotations

from dataclasses import dataclass

from api.domain.errors import Forbidden, Unauthorized
from api.domain.identity.auth import AuthPolicy, PasswordHasher, Principal, RateLimiter
from api.domain.identity.users import User
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.rate_limits import enforce_rate


@dataclass(frozen=True)
class Refusals:
    """What one sensitive change says when it is refused, and audits a wrong password as."""

    impersonating: str
    wrong_password: str
    failed_action: str


class Reauthenticate:
    """The caller's own active account, once their password matches.

    Rules: not through impersonation (403); attempts limited per user (429, one budget for
    every change that asks for the password); an account gone or deactivated is 401; a
    wrong password is audited and 401.
    """

    def __init__(
        self,
        accounts: Accounts,
        hasher: PasswordHasher,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy

    async def user(self, principal: Principal, password: str, refusals: Refusals) -> User:
        if principal.actor_id is not None:
            raise Forbidden(refusals.impersonating)
        await enforce_rate(
            self._limiter, f"password:user:{principal.user_id}", self._policy.sensitive_rate_per_ip
        )
        user = await self._accounts.by_id(principal.user_id)
        if user is None or user.id is None or not user.is_active:
            raise Unauthorized("The account is not available.")
        matches, _ = await self._hasher.verify(password, user.password_hash)
        if not matches:
            await self._auditor.record(refusals.failed_action, "user", user.id, actor_id=user.id)
            raise Unauthorized(refusals.wrong_password)
        return user
