"""Two-factor sign-in with TOTP (RFC 6238): set up, enable, disable.

The seed is encrypted at rest (`SecretBox`) in `User.mfa_secret` and shown once, in the
setup answer; it is never returned, logged or audited afterwards. Setup stores a pending
seed (`mfa_enabled` stays false) that a first correct code turns on.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from api.domain.errors import Conflict, Forbidden, InvalidMfaCode, Unauthorized
from api.domain.identity.auth import AuthPolicy, Principal, RateLimiter, SecretBox, Totp
from api.domain.identity.users import User
from api.domain.tenancy import current_tenant_or_none
from api.domain.tenants.tenant import TenantRepository
from api.usecases.kernel.accounts import Accounts, enforce_rate
from api.usecases.kernel.auditor import Auditor

log = logging.getLogger(__name__)

# A code is accepted for its own 30-second step and one step either side: ~90 seconds.
REPLAY_WINDOW_SECONDS = 120


def attempts_key(user_id: str) -> str:
    """The per-user budget of code guesses (the same key the MFA sign-in step uses)."""
    return f"mfa:user:{user_id}"


def used_code_key(user_id: str, code: str) -> str:
    return f"mfa:used:{user_id}:{code}"


class MfaCodes:
    """Checks a user's TOTP code: guesses limited per user (429), a wrong or unreadable
    code is `InvalidMfaCode` (401), and a code accepted once is refused for the rest of
    its validity window (no replay of an observed code)."""

    def __init__(
        self,
        totp: Totp,
        secrets: SecretBox,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._totp = totp
        self._secrets = secrets
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy

    async def check(self, user: User, code: str) -> None:
        assert user.id is not None  # noqa: S101 - stored users have ids
        await enforce_rate(self._limiter, attempts_key(user.id), self._policy.sensitive_rate_per_ip)
        code = code.replace(" ", "").strip()
        if not self._matches(user, code):
            await self._auditor.record("auth.mfa_failed", "user", user.id, actor_id=user.id)
            raise InvalidMfaCode("The code is not valid.")
        first_use = await self._limiter.hit(
            used_code_key(user.id, code), limit=1, window_seconds=REPLAY_WINDOW_SECONDS
        )
        if not first_use.allowed:
            raise InvalidMfaCode("This code was already used; wait for the next one.")

    def _matches(self, user: User, code: str) -> bool:
        if not user.mfa_secret:
            return False
        try:
            secret = self._secrets.decrypt(user.mfa_secret)
        except ValueError:
            log.warning("the stored MFA secret of a user cannot be decrypted")
            return False
        return self._totp.verify(secret, code)


class MfaSetup(BaseModel):
    secret: str
    otpauth_uri: str


async def _own_account(accounts: Accounts, principal: Principal) -> User:
    """The caller's own account, for changes that only its owner may make."""
    if principal.actor_id is not None:
        raise Forbidden("Two-factor settings cannot be changed while impersonating.")
    user = await accounts.by_id(principal.user_id)
    if user is None or user.id is None or not user.is_active:
        raise Unauthorized("The account is not available.")
    return user


class StartMfaSetup:
    """Make a new TOTP seed for the caller and store it (encrypted) as pending.

    Rules: the caller's own account, not through impersonation (403); not while MFA is on
    (409: disable it first); starting again replaces a pending seed. The seed and its
    `otpauth://` URI are answered this once.
    """

    def __init__(
        self,
        accounts: Accounts,
        totp: Totp,
        secrets: SecretBox,
        tenants: TenantRepository,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._totp = totp
        self._secrets = secrets
        self._tenants = tenants
        self._auditor = auditor
        self._policy = policy

    async def execute(self, principal: Principal) -> MfaSetup:
        user = await _own_account(self._accounts, principal)
        assert user.id is not None  # noqa: S101
        if user.mfa_enabled:
            raise Conflict("Two-factor sign-in is already on; disable it first.")
        secret = self._totp.new_secret()
        await self._accounts.update(user.id, {"mfa_secret": self._secrets.encrypt(secret)})
        uri = self._totp.provisioning_uri(secret, account=user.email, issuer=await self._issuer())
        await self._auditor.record("user.mfa_setup_started", "user", user.id, actor_id=user.id)
        return MfaSetup(secret=secret, otpauth_uri=uri)

    async def _issuer(self) -> str:
        """The product name, with the tenant's when in a tenant (one account per tenant)."""
        tenant_id = current_tenant_or_none()
        tenant = await self._tenants.get(tenant_id) if tenant_id else None
        name = self._policy.issuer_name
        return f"{name} ({tenant.name})" if tenant else name


class EnableMfa:
    """Turn MFA on with a code from the pending seed.

    Rules: own account, no impersonation (403); a pending seed from setup is needed and MFA
    must be off (409); the code is checked by `MfaCodes` (401 `invalid_mfa_code`, 429).
    From now on a password sign-in only earns an MFA challenge.
    """

    def __init__(self, accounts: Accounts, codes: MfaCodes, auditor: Auditor) -> None:
        self._accounts = accounts
        self._codes = codes
        self._auditor = auditor

    async def execute(self, principal: Principal, code: str) -> None:
        user = await _own_account(self._accounts, principal)
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


class DisableMfa:
    """Turn MFA off with a current code; the seed is erased.

    Rules: own account, no impersonation (403); MFA must be on (409); the code is checked
    by `MfaCodes` (401 `invalid_mfa_code`, 429).
    """

    def __init__(self, accounts: Accounts, codes: MfaCodes, auditor: Auditor) -> None:
        self._accounts = accounts
        self._codes = codes
        self._auditor = auditor

    async def execute(self, principal: Principal, code: str) -> None:
        user = await _own_account(self._accounts, principal)
        assert user.id is not None  # noqa: S101
        if not user.mfa_enabled:
            raise Conflict("Two-factor sign-in is not on.")
        await self._codes.check(user, code)
        await self._accounts.update(user.id, {"mfa_enabled": False, "mfa_secret": None})
        await self._auditor.record(
            "user.mfa_disabled", "user", user.id, actor_id=user.id,
            changes={"mfa_enabled": {"from": True, "to": False}},
        )  # fmt: skip
