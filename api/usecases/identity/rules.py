"""Rules and helpers the identity use cases share.

- Sign-in failures are counted per plane and address (`lockout_key`).
- One-time links carry a purpose (`PASSWORD_RESET`, `EMAIL_VERIFICATION`, `INVITATION`).
- Where a flow would otherwise tell a stranger whether an address has an account
  (resend verification, forgot password), it answers the same whatever the address, is
  limited per IP and per address (`limit_address_requests`), and does the real work only
  when there is an account.
- A registration that must be verified is *pending*: stored with `email_verified=False`
  and `is_active=False`. Login refuses it like any failed sign-in (the same 401 whether
  or not the password matched), so pending accounts reveal nothing to anyone; verifying
  the address activates it. Only an account untouched since it registered counts as
  pending (`pending_verification`): a deactivated account never reactivates itself by
  verifying its address.
- Roles: every permission is in the catalog and is a tenant permission
  (`check_permission_names`); the audit records the fields in `AUDITED_ROLE_FIELDS`.
- Another tenant's user or role is simply not found (`existing_user`, `existing_role`).
"""

from __future__ import annotations

from pydantic import EmailStr, TypeAdapter, ValidationError

from api.common.request_context import current_client
from api.domain.errors import FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import AuthPolicy, RateLimiter
from api.domain.identity.roles import Role, RoleRepository
from api.domain.identity.users import User, UserRepository, normalize_email
from api.domain.permissions import PLATFORM_PERMISSIONS, unknown_permissions
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.rate_limits import enforce_rate

# One-time token purposes.
PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name, not a secret
EMAIL_VERIFICATION = "email_verification"
INVITATION = "invitation"

REQUESTS_PER_ADDRESS = 5  # reset or verification emails per address and hour
ADDRESS_WINDOW_SECONDS = 3600

ROLE_NOT_FOUND = "No such role."
AUDITED_ROLE_FIELDS = ("name", "description", "permissions", "inherits", "departments_only")

_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailStr)


def lockout_key(plane: str, email: str) -> str:
    """The counter of failed sign-ins of `email` in `plane` (a tenant id, or "platform")."""
    return f"login:failures:{plane}:{email}"


def valid_email(raw: str) -> str:
    """A normalised, deliverable-looking address; 422 on `email` otherwise."""
    try:
        return normalize_email(_ADDRESS.validate_python(raw.strip()))
    except ValidationError:
        raise InvalidInput(
            "Invalid input.", [FieldProblem(("email",), "not a valid email address")]
        ) from None


def pending_verification(user: User) -> bool:
    """A self-registration waiting for its address to be confirmed: unverified, inactive,
    and never changed since it was created. Every change (an administrator's deactivation
    among them) stamps `updated_at`, so an account an administrator turned off is never
    mistaken for a pending one; when in doubt the answer is no, and an administrator can
    still activate the account."""
    return not user.email_verified and not user.is_active and user.updated_at == user.created_at


async def limit_address_requests(
    limiter: RateLimiter, action: str, plane: str, email: str, policy: AuthPolicy
) -> None:
    """Per IP and per address limits of an email-sending request (429 when exceeded)."""
    ip, _ = current_client()
    await enforce_rate(limiter, f"{action}:ip:{ip}", policy.sensitive_rate_per_ip)
    await enforce_rate(
        limiter,
        f"{action}:email:{plane}:{email}",
        REQUESTS_PER_ADDRESS,
        window=ADDRESS_WINDOW_SECONDS,
    )


async def existing_user(users: UserRepository, user_id: str) -> User:
    """The user of this tenant with `user_id`; `NotFound` otherwise."""
    user = await users.get(user_id)
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    return user


def check_permission_names(names: list[str]) -> list[str]:
    """The names, deduplicated and sorted; `InvalidInput` naming unknown or platform ones."""
    unique = sorted(set(names))
    problems = [
        FieldProblem(("permissions",), f"unknown permission '{n}'")
        for n in unknown_permissions(unique)
    ]
    problems += [
        FieldProblem(("permissions",), f"'{n}' is a platform permission: not for tenant roles")
        for n in unique
        if n in PLATFORM_PERMISSIONS
    ]
    if problems:
        raise InvalidInput("; ".join(p.msg for p in problems) + ".", problems)
    return unique


async def existing_role(roles: RoleRepository, role_id: str) -> Role:
    """The role of this tenant with `role_id`; `NotFound` otherwise."""
    role = await roles.get(role_id)
    if role is None:
        raise NotFound(ROLE_NOT_FOUND)
    return role
