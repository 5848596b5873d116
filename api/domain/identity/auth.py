"""Authentication: who is calling (`Principal`), sessions, and the ports behind them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel


class Principal(BaseModel):
    """The authenticated caller of one request, from a verified access token."""

    user_id: str
    tenant_id: str | None  # None: a platform admin in the platform plane
    session_id: str
    token_id: str
    permissions: frozenset[str]
    issued_at: datetime
    expires_at: datetime
    actor_id: str | None = None  # a platform admin impersonating `user_id`
    # None: not limited; else the departments whose records this caller may see (their
    # memberships, when every role they hold is `departments_only`).
    departments: frozenset[str] | None = None
    # Set when the caller is an API key (then `user_id` is `api_key:<id>`, not a user).
    api_key_id: str | None = None

    @property
    def is_platform(self) -> bool:
        return self.tenant_id is None

    @property
    def is_api_key(self) -> bool:
        return self.api_key_id is not None

    def can(self, permission: str) -> bool:
        return permission in self.permissions


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class Session(BaseModel):
    """One sign-in: a family of rotating refresh tokens, stored as hashes."""

    id: str
    tenant_id: str | None
    user_id: str
    current_hash: str
    created_at: datetime
    expires_at: datetime
    revoked: bool = False
    actor_id: str | None = None
    ip: str | None = None  # where it was started from
    user_agent: str | None = None
    last_used_at: datetime | None = None  # its last refresh


class RotateOutcome(StrEnum):
    ROTATED = "rotated"  # the presented token was current: the new one replaces it
    RACED = "raced"  # spent moments ago by a concurrent refresh: refuse, keep the family
    REUSED = "reused"  # spent earlier: a stolen token; the family is now revoked
    INVALID = "invalid"  # unknown, expired or revoked


@dataclass(frozen=True)
class Rotation:
    outcome: RotateOutcome
    session: Session | None = None


class PasswordHasher(Protocol):
    """Slow password hashing, kept off the event loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """(matches, a new hash when the stored one should be upgraded). With `hashed`
        None it still spends the same time and answers False (uniform timing)."""
        ...


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    tenant_id: str | None
    session_id: str
    token_id: str
    permissions: frozenset[str]
    issued_at: datetime
    expires_at: datetime
    actor_id: str | None = None
    departments_only: bool = False  # every role the user holds is limited to departments


class TokenService(Protocol):
    """Signs and verifies access tokens and short-lived MFA challenge tokens."""

    def issue_access(
        self,
        *,
        user_id: str,
        tenant_id: str | None,
        session_id: str,
        permissions: frozenset[str],
        actor_id: str | None = None,
        departments_only: bool = False,
    ) -> tuple[str, int]:
        """(token, lifetime in seconds)."""
        ...

    def decode_access(self, token: str) -> AccessClaims:
        """The verified claims; raises `Unauthorized` for any invalid token."""
        ...

    def issue_mfa_challenge(self, *, user_id: str, tenant_id: str | None) -> str: ...

    def decode_mfa_challenge(self, token: str) -> tuple[str, str | None]:
        """(user id, tenant id); raises `Unauthorized`."""
        ...

    def new_refresh_token(self, session_id: str) -> tuple[str, str]:
        """(the opaque token for the client, the hash to store)."""
        ...

    def refresh_token_parts(self, token: str) -> tuple[str, str] | None:
        """(session id, hash) of a presented refresh token, or None when malformed."""
        ...


class SessionStore(Protocol):
    """Refresh-token families (platform-level: keyed by session id, carrying the tenant)."""

    async def create(self, session: Session) -> None: ...

    async def rotate(self, session_id: str, presented_hash: str, new_hash: str) -> Rotation:
        """Atomically replace the current hash; exactly one of concurrent callers wins."""
        ...

    async def revoke(self, session_id: str) -> Session | None: ...

    async def revoke_all(self, tenant_id: str | None, user_id: str) -> list[str]:
        """Revoke every session of a user; the revoked session ids."""
        ...

    async def revoke_many(self, tenant_id: str | None, user_id: str, session_ids: list[str]) -> int:
        """Revoke these sessions of the user (others' ids are left alone), in one write;
        how many were still live."""
        ...

    async def live(self, tenant_id: str | None, user_id: str) -> list[Session]:
        """The user's sessions neither revoked nor expired, newest first."""
        ...

    async def clients_before(
        self, tenant_id: str | None, user_id: str, session_id: str
    ) -> set[str | None]:
        """The user agents of the user's other sessions still on record (ended ones too,
        until they expire): empty when `session_id` is their first."""
        ...


class Revocations(Protocol):
    """Access tokens refused before they expire (checked on every request)."""

    async def revoke_sessions(self, session_ids: list[str]) -> None: ...

    async def revoke_user(self, tenant_id: str | None, user_id: str, at: datetime) -> None:
        """Refuse every access token of the user issued before `at`."""
        ...

    async def is_revoked(self, claims: AccessClaims) -> bool:
        """True when the token's session or user was revoked; raises `ServiceUnavailable`
        when it cannot tell (refusing is safer than accepting a revoked token)."""
        ...


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision: ...

    async def reset(self, key: str) -> None: ...

    async def count(self, key: str) -> int: ...


class OneTimeTokens(Protocol):
    """Single-use, expiring tokens (password reset, email verification, invitation),
    stored as hashes."""

    async def issue(
        self, *, purpose: str, user_id: str, tenant_id: str | None, ttl_seconds: int
    ) -> str: ...

    async def consume(self, *, purpose: str, token: str) -> tuple[str, str | None] | None:
        """(user id, tenant id) once; None when unknown, used or expired."""
        ...

    async def revoke_for_user(self, *, purpose: str, user_id: str) -> None: ...


class SecretBox(Protocol):
    """Symmetric encryption of secrets at rest (MFA seeds, provider keys)."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, ciphertext: str) -> str: ...

    def reseal(self, ciphertext: str) -> str | None:
        """`ciphertext`'s secret sealed under the current key, or None when it already is;
        `ValueError` when no key opens it (what `decrypt` raises)."""
        ...


class Totp(Protocol):
    def new_secret(self) -> str: ...

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str: ...

    def verify(self, secret: str, code: str) -> bool: ...


class BreachedPasswords(Protocol):
    """Whether a password is known from data breaches (ASVS 2.1.7)."""

    async def is_breached(self, password: str) -> bool:
        """True when the password is in the breach corpus; False when it is not, or when
        the check cannot be made (it never holds up a password change)."""
        ...


class RecoveryCodes(Protocol):
    """Single-use MFA recovery codes: made in sets, stored only as keyed digests."""

    def new_set(self) -> list[str]:
        """A fresh set of codes, as shown to the user (once)."""
        ...

    def digest(self, user_id: str, code: str) -> str | None:
        """The stored form of `code` for this user (spaces, dashes and case ignored); None
        when `code` is not shaped like a recovery code."""
        ...


@dataclass(frozen=True)
class AuthPolicy:
    """The rules of sign-in, from settings."""

    password_min_length: int = 8
    refresh_ttl_seconds: int = 30 * 86400
    login_rate_per_ip: int = 30
    login_rate_per_account: int = 10
    sensitive_rate_per_ip: int = 10
    lockout_threshold: int = 5
    lockout_seconds: int = 900
    reset_ttl_seconds: int = 1800
    verification_ttl_seconds: int = 48 * 3600
    invitation_ttl_seconds: int = 72 * 3600
    public_base_url: str = "http://127.0.0.1:8000"
    issuer_name: str = "Parley"
    api_key_rate_per_minute: int = 600
