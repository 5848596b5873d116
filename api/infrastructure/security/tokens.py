"""`TokenService` adapter on PyJWT: access and MFA-challenge JWTs, opaque refresh tokens.

- Access tokens carry `typ: "access"`, MFA challenge tokens `typ: "mfa"`; each decoder
  accepts only its own type, with the algorithm pinned (no `none`, no HS/RS confusion).
- Refresh tokens are opaque: `"{session_id}.{random}"`. Only an HMAC-SHA256 of the whole
  token (keyed with the refresh secret) is stored; comparing hashes is the store's job.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from api.common.clock import utcnow
from api.config import ConfigurationError
from api.domain.errors import Unauthorized
from api.domain.identity.auth import AccessClaims

ALGORITHMS = frozenset({"HS256", "RS256"})
LEEWAY_SECONDS = 10
VERIFIED_CACHE_SIZE = 4096  # access tokens whose signature was checked (~2 KB each)
MAX_REFRESH_TOKEN_LENGTH = 512
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REFRESH_PATTERN = re.compile(r"([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{32,128})")
_ACCESS = "access"
_MFA = "mfa"
_ACCESS_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "sid", "jti"]
_MFA_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti"]
_INVALID = "Invalid or expired token."


class JwtTokenService:
    """Signs with `signing_key` and verifies with `verifying_key` (the same secret for
    HS256; PEM private and public keys for RS256, see `load_signing_keys`)."""

    def __init__(
        self,
        *,
        algorithm: str,
        signing_key: str,
        verifying_key: str,
        refresh_secret: str,
        issuer: str,
        audience: str,
        access_ttl_seconds: int,
        mfa_ttl_seconds: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported JWT algorithm {algorithm!r}")
        if not refresh_secret:
            raise ValueError("the refresh token secret is empty")
        self._algorithm = algorithm
        self._signing_key = signing_key
        self._verifying_key = verifying_key
        self._refresh_secret = refresh_secret.encode("utf-8")
        self._issuer = issuer
        self._audience = audience
        self._access_ttl = access_ttl_seconds
        self._mfa_ttl = mfa_ttl_seconds
        self._clock = clock
        self._verified: dict[str, AccessClaims] = {}  # token -> claims, oldest first

    # -- access tokens -------------------------------------------------------------------

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
        claims: dict[str, Any] = {
            "sub": user_id,
            "tid": tenant_id,
            "sid": session_id,
            "perms": sorted(permissions),
            "typ": _ACCESS,
        }
        if actor_id is not None:
            claims["act"] = actor_id
        if departments_only:
            claims["dpt"] = True
        return self._encode(claims, self._access_ttl), self._access_ttl

    def decode_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token. A token verified before is not verified
        again (PyJWT's decode checks a 1.2 KB token byte by byte in Python: most of an
        authenticated read's CPU): its claims are kept, by the whole token string, and
        only its expiry is checked again, as PyJWT checks it. Revocation is not cached
        (the caller asks Redis every time)."""
        claims = self._verified.get(token)
        if claims is not None:
            if self._clock() >= claims.expires_at + timedelta(seconds=LEEWAY_SECONDS):
                with contextlib.suppress(KeyError):
                    del self._verified[token]
                raise Unauthorized(_INVALID)
            return claims
        claims = self._decode_access(token)
        self._verified[token] = claims
        while len(self._verified) > VERIFIED_CACHE_SIZE:
            with contextlib.suppress(KeyError, StopIteration):
                del self._verified[next(iter(self._verified))]  # the oldest
        return claims

    def _decode_access(self, token: str) -> AccessClaims:
        payload = self._decode(token, _ACCESS, _ACCESS_REQUIRED)
        perms = payload.get("perms", [])
        actor = payload.get("act")
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            raise Unauthorized(_INVALID)
        if not _is_str(payload["sid"]) or not (actor is None or _is_str(actor)):
            raise Unauthorized(_INVALID)
        limited = payload.get("dpt", False)
        if not isinstance(limited, bool):
            raise Unauthorized(_INVALID)
        return AccessClaims(
            user_id=payload["sub"],
            tenant_id=_tenant(payload),
            session_id=payload["sid"],
            token_id=payload["jti"],
            permissions=frozenset(perms),
            issued_at=_timestamp(payload["iat"]),
            expires_at=_timestamp(payload["exp"]),
            actor_id=actor,
            departments_only=limited,
        )

    # -- MFA challenge tokens ------------------------------------------------------------

    def issue_mfa_challenge(self, *, user_id: str, tenant_id: str | None) -> str:
        return self._encode({"sub": user_id, "tid": tenant_id, "typ": _MFA}, self._mfa_ttl)

    def decode_mfa_challenge(self, token: str) -> tuple[str, str | None]:
        payload = self._decode(token, _MFA, _MFA_REQUIRED)
        return payload["sub"], _tenant(payload)

    # -- refresh tokens ------------------------------------------------------------------

    def new_refresh_token(self, session_id: str) -> tuple[str, str]:
        if not SESSION_ID_PATTERN.fullmatch(session_id):
            raise ValueError("a session id is 1-64 characters of [A-Za-z0-9_-]")
        token = f"{session_id}.{secrets.token_urlsafe(32)}"
        return token, self._refresh_hash(token)

    def refresh_token_parts(self, token: str) -> tuple[str, str] | None:
        if not isinstance(token, str) or len(token) > MAX_REFRESH_TOKEN_LENGTH:
            return None
        if not token.isascii():
            return None
        match = _REFRESH_PATTERN.fullmatch(token)
        if match is None:
            return None
        return match.group(1), self._refresh_hash(token)

    def _refresh_hash(self, token: str) -> str:
        return hmac.new(self._refresh_secret, token.encode("ascii"), hashlib.sha256).hexdigest()

    # -- JWT plumbing --------------------------------------------------------------------

    def _encode(self, claims: dict[str, Any], ttl_seconds: int) -> str:
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        payload = {
            **claims,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._signing_key, algorithm=self._algorithm)

    def _decode(self, token: str, typ: str, required: list[str]) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._verifying_key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": required, "verify_signature": True},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized(_INVALID) from exc
        if payload.get("typ") != typ or not _is_str(payload["sub"]) or not _is_str(payload["jti"]):
            raise Unauthorized(_INVALID)
        tenant = payload.get("tid")
        if not (tenant is None or _is_str(tenant)):
            raise Unauthorized(_INVALID)
        return payload


def _is_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _tenant(payload: dict[str, Any]) -> str | None:
    tenant = payload.get("tid")
    return tenant if isinstance(tenant, str) else None


def _timestamp(value: object) -> datetime:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Unauthorized(_INVALID)
    return datetime.fromtimestamp(value, UTC)


def load_signing_keys(
    algorithm: str,
    jwt_secret: str,
    private_key_file: str | None,
    public_key_file: str | None,
) -> tuple[str, str]:
    """(signing key, verifying key): the secret twice for HS256, the PEM files for RS256.

    Raises `ConfigurationError` naming the setting or file that is missing or unreadable.
    """
    if algorithm == "HS256":
        if not jwt_secret:
            raise ConfigurationError("JWT_SECRET must be set for HS256")
        return jwt_secret, jwt_secret
    if algorithm != "RS256":
        raise ConfigurationError(f"JWT_ALGORITHM {algorithm!r} is not supported")
    private_pem = _read_pem("JWT_PRIVATE_KEY_FILE", private_key_file)
    public_pem = _read_pem("JWT_PUBLIC_KEY_FILE", public_key_file)
    try:
        serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"JWT_PRIVATE_KEY_FILE {private_key_file}: not an unencrypted PEM private key"
        ) from exc
    try:
        serialization.load_pem_public_key(public_pem.encode("ascii"))
    except ValueError as exc:
        raise ConfigurationError(
            f"JWT_PUBLIC_KEY_FILE {public_key_file}: not a PEM public key"
        ) from exc
    return private_pem, public_pem


def _read_pem(setting: str, path: str | None) -> str:
    if not path:
        raise ConfigurationError(f"{setting} must be set for RS256")
    try:
        return Path(path).read_text(encoding="ascii")
    except FileNotFoundError:
        raise ConfigurationError(f"{setting}: the file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{setting}: cannot read {path} ({exc})") from None
