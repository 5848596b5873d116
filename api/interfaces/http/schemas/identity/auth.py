"""Request and response bodies of the identity routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.domain.identity.auth import Session
from api.domain.tenants.tenant import Tenant
from api.usecases.kernel.describe_users import UserView

Password = str  # the policy is checked by the use cases (length, not the email)


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int


class MfaRequiredOut(BaseModel):
    mfa_required: bool = True
    mfa_token: str


MfaCode = Annotated[
    str,
    Field(
        min_length=6,
        max_length=32,
        description=(
            "A six-digit code from the authenticator app; where the user may have lost it "
            "(sign-in, `/auth/mfa/disable`, `/auth/mfa/recovery-codes`), one of their "
            "recovery codes instead (`xxxxx-xxxxx`; spaces, dashes and case do not matter), "
            "spent by this use."
        ),
    ),
]


class MfaVerifyIn(BaseModel):
    mfa_token: str = Field(min_length=1, max_length=4096)
    code: MfaCode


class OtpRequestIn(BaseModel):
    """Exactly one of `email` and `phone` (international, `+...`)."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, min_length=3, max_length=320)
    phone: str | None = Field(default=None, min_length=3, max_length=32)


class OtpVerifyIn(OtpRequestIn):
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutIn(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=512)


class RoleRef(BaseModel):
    id: str
    name: str


class UserOut(BaseModel):
    id: str
    email: str
    phone: str | None = None
    full_name: str
    is_active: bool
    email_verified: bool
    mfa_enabled: bool
    tenant_id: str | None
    roles: list[RoleRef]
    avatar_url: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: UserView, avatar_url: str | None = None) -> UserOut:
        user = view.user
        return cls(
            id=user.id or "",
            email=user.email,
            phone=user.phone,
            full_name=user.full_name,
            is_active=user.is_active,
            email_verified=user.email_verified,
            mfa_enabled=user.mfa_enabled,
            tenant_id=user.tenant_id,
            roles=[RoleRef(id=i, name=n) for i, n in view.roles],
            avatar_url=avatar_url,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class TenantRef(BaseModel):
    id: str
    name: str
    subdomain: str

    @classmethod
    def of(cls, tenant: Tenant) -> TenantRef:
        return cls(id=tenant.id or "", name=tenant.name, subdomain=tenant.subdomain)


class MeOut(UserOut):
    permissions: list[str]
    mfa_recovery_codes_left: int = Field(
        default=0,
        description="How many unused MFA recovery codes the user has (0 while MFA is off).",
    )
    tenant: TenantRef | None
    impersonated_by: str | None = None
    departments: list[str] | None = Field(
        default=None,
        description=(
            "None when the user sees every department's records; else the ids of the "
            "departments they are limited to (every role they hold is `departments_only`)."
        ),
    )


# -- account flows (register, passwords, verification, MFA) ----------------------------------


class RegisterIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: Password = Field(min_length=1, max_length=1024)
    full_name: str = Field(min_length=1, max_length=200)


class EmailIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)


class AcceptedOut(BaseModel):
    """The same answer whether or not the address has an account."""

    detail: str


class ResetPasswordIn(BaseModel):
    token: str = Field(min_length=1, max_length=512)
    new_password: Password = Field(min_length=1, max_length=1024)


class TokenIn(BaseModel):
    token: str = Field(min_length=1, max_length=512)


class SessionOut(BaseModel):
    """One of the caller's live sessions (a sign-in), as `GET /auth/sessions` shows it."""

    id: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="Its last token refresh")
    expires_at: datetime
    ip: str | None = Field(description="The address it was started from, if known")
    user_agent: str | None = Field(description="The client that started it (256 characters)")
    current: bool = Field(description="The session of the token that asked")
    impersonated_by: str | None = Field(
        default=None, description="The platform admin who started it, for an impersonation"
    )

    @classmethod
    def of(cls, session: Session, current_id: str) -> SessionOut:
        return cls(
            id=session.id, created_at=session.created_at, last_used_at=session.last_used_at,
            expires_at=session.expires_at, ip=session.ip, user_agent=session.user_agent,
            current=session.id == current_id, impersonated_by=session.actor_id,
        )  # fmt: skip


class SessionListOut(BaseModel):
    items: list[SessionOut]


class PasswordIn(BaseModel):
    password: Password = Field(min_length=1, max_length=1024)


class SessionsEndedOut(BaseModel):
    ended: int = Field(description="How many sessions ended")


class DeleteAccountIn(BaseModel):
    password: Password = Field(min_length=1, max_length=1024)
    code: MfaCode | None = None


class ChangePasswordIn(BaseModel):
    current_password: Password = Field(min_length=1, max_length=1024)
    new_password: Password = Field(min_length=1, max_length=1024)


class MfaSetupOut(BaseModel):
    """Shown once: the TOTP seed, an `otpauth://` URI for authenticator apps, and the
    recovery codes that work once MFA is on."""

    secret: str
    otpauth_uri: str
    recovery_codes: list[str] = Field(
        description=(
            "Ten single-use codes that stand in for the authenticator (sign-in, turning MFA "
            "off, new codes) once `/auth/mfa/enable` has turned MFA on. Shown this once; "
            "stored only as keyed digests."
        )
    )


class MfaCodeIn(BaseModel):
    code: MfaCode


class RecoveryCodesOut(BaseModel):
    """Shown once: the new set, which replaces every unused code of the previous one."""

    recovery_codes: list[str]
