"""Starting two-factor setup: a new TOTP seed and recovery codes, pending until a first
code from the seed turns MFA on."""

from __future__ import annotations

from pydantic import BaseModel

from api.domain.errors import Conflict
from api.domain.identity.auth import AuthPolicy, Principal, RecoveryCodes, SecretBox, Totp
from api.domain.tenancy import current_tenant_or_none
from api.domain.tenants.tenant import TenantRepository
from api.usecases.identity.mfa_codes import account_for_mfa_change, new_recovery_set
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor


class MfaSetup(BaseModel):
    secret: str
    otpauth_uri: str
    recovery_codes: list[str]


class StartMfaSetup:
    """Make a new TOTP seed for the caller and store it (encrypted) as pending.

    Rules: the caller's own account, not through impersonation (403); not while MFA is on
    (409: disable it first); starting again replaces a pending seed and its recovery codes.
    The seed, its `otpauth://` URI and the recovery codes are answered this once.
    """

    def __init__(
        self,
        accounts: Accounts,
        totp: Totp,
        secrets: SecretBox,
        recovery_codes: RecoveryCodes,
        tenants: TenantRepository,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._totp = totp
        self._secrets = secrets
        self._recovery_codes = recovery_codes
        self._tenants = tenants
        self._auditor = auditor
        self._policy = policy

    async def execute(self, principal: Principal) -> MfaSetup:
        user = await account_for_mfa_change(self._accounts, principal)
        assert user.id is not None  # noqa: S101
        if user.mfa_enabled:
            raise Conflict("Two-factor sign-in is already on; disable it first.")
        secret = self._totp.new_secret()
        shown, stored = new_recovery_set(self._recovery_codes, user.id)
        await self._accounts.update(
            user.id, {"mfa_secret": self._secrets.encrypt(secret), "mfa_recovery_codes": stored}
        )
        uri = self._totp.provisioning_uri(secret, account=user.email, issuer=await self._issuer())
        await self._auditor.record("user.mfa_setup_started", "user", user.id, actor_id=user.id)
        return MfaSetup(secret=secret, otpauth_uri=uri, recovery_codes=shown)

    async def _issuer(self) -> str:
        """The product name, with the tenant's when in a tenant (one account per tenant)."""
        tenant_id = current_tenant_or_none()
        tenant = await self._tenants.get(tenant_id) if tenant_id else None
        name = self._policy.issuer_name
        return f"{name} ({tenant.name})" if tenant else name
