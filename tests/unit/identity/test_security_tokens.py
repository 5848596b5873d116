"""JwtTokenService: access and MFA JWTs refuse every kind of bad token; refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.config import ConfigurationError
from api.domain.errors import Unauthorized
from api.infrastructure.security.tokens import (
    VERIFIED_CACHE_SIZE,
    JwtTokenService,
    load_signing_keys,
)

SECRET = "unit-test-jwt-secret-0123456789abcdef"
REFRESH_SECRET = "unit-test-refresh-secret-0123456789abcdef"
PERMS = frozenset({"users:read", "chat:write"})


def service(**overrides: Any) -> JwtTokenService:
    options: dict[str, Any] = {
        "algorithm": "HS256",
        "signing_key": SECRET,
        "verifying_key": SECRET,
        "refresh_secret": REFRESH_SECRET,
        "issuer": "parley",
        "audience": "parley-api",
        "access_ttl_seconds": 900,
        "mfa_ttl_seconds": 300,
    }
    options.update(overrides)
    return JwtTokenService(**options)


def access_token(tokens: JwtTokenService, **claims: Any) -> str:
    token, _ = tokens.issue_access(
        user_id=claims.get("user_id", "u1"),
        tenant_id=claims.get("tenant_id", "t1"),
        session_id="s1",
        permissions=PERMS,
        actor_id=claims.get("actor_id"),
    )
    return token


def payload_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_access_token_round_trip() -> None:
    tokens = service()
    before = datetime.now(UTC).replace(microsecond=0)
    token, ttl = tokens.issue_access(
        user_id="u1", tenant_id="t1", session_id="s1", permissions=PERMS, actor_id="admin"
    )
    claims = tokens.decode_access(token)
    assert ttl == 900
    assert (claims.user_id, claims.tenant_id, claims.session_id) == ("u1", "t1", "s1")
    assert claims.permissions == PERMS and claims.actor_id == "admin"
    assert claims.issued_at.tzinfo is not None and claims.issued_at >= before
    assert claims.expires_at - claims.issued_at == timedelta(seconds=900)
    raw = payload_of(token)
    assert raw["typ"] == "access" and raw["perms"] == sorted(PERMS)
    assert raw["iss"] == "parley" and raw["aud"] == "parley-api" and len(raw["jti"]) == 32


def test_platform_token_has_null_tenant_and_no_actor() -> None:
    tokens = service()
    claims = tokens.decode_access(access_token(tokens, tenant_id=None))
    assert claims.tenant_id is None and claims.actor_id is None
    assert claims.token_id != tokens.decode_access(access_token(tokens)).token_id


def test_expired_token_is_refused() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    issuer = service(clock=lambda: past)
    token = access_token(issuer)
    with pytest.raises(Unauthorized, match="Invalid or expired token"):
        service().decode_access(token)


def test_expired_within_leeway_is_accepted_but_not_beyond() -> None:
    at_edge = datetime.now(UTC) - timedelta(seconds=905)  # expired 5 s ago: within leeway
    assert service().decode_access(access_token(service(clock=lambda: at_edge)))
    too_old = datetime.now(UTC) - timedelta(seconds=915)
    with pytest.raises(Unauthorized):
        service().decode_access(access_token(service(clock=lambda: too_old)))


@pytest.mark.parametrize("verified_before", [False, True])
def test_tampered_signature_and_payload_are_refused(verified_before: bool) -> None:
    tokens = service()
    token = access_token(tokens)
    if verified_before:  # the genuine token's claims are kept: a changed copy is not it
        tokens.decode_access(token)
    header, body, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(Unauthorized):
        tokens.decode_access(f"{header}.{body}.{flipped}")
    forged = _b64(json.dumps(payload_of(token) | {"perms": ["*"]}).encode())
    with pytest.raises(Unauthorized):
        tokens.decode_access(f"{header}.{forged}.{signature}")


def test_other_key_is_refused() -> None:
    token = access_token(service(signing_key="another-secret-of-enough-length-0123456"))
    with pytest.raises(Unauthorized):
        service().decode_access(token)


def test_alg_none_token_is_refused() -> None:
    claims = payload_of(access_token(service()))
    unsigned = jwt.encode(claims, key="", algorithm="none")
    with pytest.raises(Unauthorized):
        service().decode_access(unsigned)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 5000, "ey.ey.ey"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(Unauthorized):
        service().decode_access(garbage)


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "other-api"), ("iss", "someone-else"), ("typ", "refresh"), ("perms", "admin")],
)
def test_wrong_claims_are_refused(claim: str, value: str) -> None:
    claims = payload_of(access_token(service())) | {claim: value}
    with pytest.raises(Unauthorized):
        service().decode_access(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud", "sub", "sid", "jti"])
def test_missing_required_claim_is_refused(missing: str) -> None:
    claims = payload_of(access_token(service()))
    del claims[missing]
    with pytest.raises(Unauthorized):
        service().decode_access(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_mfa_token_round_trip_and_no_confusion_with_access() -> None:
    tokens = service()
    challenge = tokens.issue_mfa_challenge(user_id="u1", tenant_id="t1")
    assert tokens.decode_mfa_challenge(challenge) == ("u1", "t1")
    assert payload_of(challenge)["exp"] - payload_of(challenge)["iat"] == 300
    with pytest.raises(Unauthorized):
        tokens.decode_access(challenge)
    with pytest.raises(Unauthorized):
        tokens.decode_mfa_challenge(access_token(tokens))
    platform = tokens.issue_mfa_challenge(user_id="u2", tenant_id=None)
    assert tokens.decode_mfa_challenge(platform) == ("u2", None)


def write_rsa_keys(directory: Path, name: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(private), str(public)


@pytest.fixture(scope="module")
def rsa_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return write_rsa_keys(tmp_path_factory.mktemp("keys"), "jwt")


def rs256_service(private_file: str, public_file: str) -> JwtTokenService:
    signing, verifying = load_signing_keys("RS256", SECRET, private_file, public_file)
    return service(algorithm="RS256", signing_key=signing, verifying_key=verifying)


def test_rs256_round_trip(rsa_files: tuple[str, str]) -> None:
    tokens = rs256_service(*rsa_files)
    token = access_token(tokens)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert tokens.decode_access(token).user_id == "u1"
    assert tokens.decode_mfa_challenge(tokens.issue_mfa_challenge(user_id="u", tenant_id=None))


def test_rs256_refuses_another_key_pair(rsa_files: tuple[str, str], tmp_path: Path) -> None:
    other = rs256_service(*write_rsa_keys(tmp_path, "other"))
    with pytest.raises(Unauthorized):
        rs256_service(*rsa_files).decode_access(access_token(other))


def test_hs256_token_under_rs256_config_is_refused(rsa_files: tuple[str, str]) -> None:
    """Algorithm confusion: an HS256 token keyed with the public key (or a guess)."""
    tokens = rs256_service(*rsa_files)
    public_pem = Path(rsa_files[1]).read_text()
    claims = payload_of(access_token(tokens))
    for key in (public_pem, SECRET):
        with pytest.raises(Unauthorized):
            tokens.decode_access(_hmac_jwt(claims, key))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hmac_jwt(claims: dict[str, Any], key: str) -> str:
    """An HS256 JWT made by hand (PyJWT refuses a PEM as an HMAC key, attackers do not)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_load_signing_keys_hs256_and_missing_files(tmp_path: Path) -> None:
    assert load_signing_keys("HS256", SECRET, None, None) == (SECRET, SECRET)
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigurationError, match=r"nope\.pem"):
        load_signing_keys("RS256", SECRET, missing, missing)
    with pytest.raises(ConfigurationError, match="JWT_PRIVATE_KEY_FILE"):
        load_signing_keys("RS256", SECRET, None, None)
    not_a_key = tmp_path / "bad.pem"
    not_a_key.write_text("hello")
    with pytest.raises(ConfigurationError, match=r"bad\.pem"):
        load_signing_keys("RS256", SECRET, str(not_a_key), str(not_a_key))


def test_unknown_algorithm_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        service(algorithm="none")


def test_refresh_token_parts_and_hash_are_stable() -> None:
    tokens = service()
    token, stored_hash = tokens.new_refresh_token("0123abcd")
    session_id, secret = token.split(".")
    assert session_id == "0123abcd" and len(secret) == 43
    assert tokens.refresh_token_parts(token) == ("0123abcd", stored_hash)
    assert service().refresh_token_parts(token) == ("0123abcd", stored_hash)
    assert len(stored_hash) == 64 and int(stored_hash, 16) >= 0
    other_secret = service(refresh_secret="another-refresh-secret-0123456789abcd")
    assert other_secret.refresh_token_parts(token) != ("0123abcd", stored_hash)
    assert tokens.new_refresh_token("0123abcd") != (token, stored_hash)


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "no-dot-at-all",
        ".onlysecretpart0123456789012345678901234567",
        "sid.",
        "sid.short",
        "a.b.c" + "x" * 40,
        "sid." + "x" * 600,
        "sïd." + "x" * 43,
        "sid." + "é" * 43,
        "sid with space." + "x" * 43,
    ],
)
def test_malformed_refresh_tokens_give_none(malformed: str) -> None:
    assert service().refresh_token_parts(malformed) is None


def test_new_refresh_token_refuses_a_session_id_with_a_dot() -> None:
    with pytest.raises(ValueError, match="session id"):
        service().new_refresh_token("a.b")


def test_a_limited_users_token_says_so_and_others_carry_nothing() -> None:
    tokens = service()
    limited, _ = tokens.issue_access(
        user_id="u1", tenant_id="t1", session_id="s1", permissions=PERMS, departments_only=True
    )
    assert payload_of(limited)["dpt"] is True
    assert tokens.decode_access(limited).departments_only is True
    plain = access_token(tokens)
    assert "dpt" not in payload_of(plain)
    assert tokens.decode_access(plain).departments_only is False


def test_a_verified_token_is_not_verified_again_but_still_expires() -> None:
    now = [datetime.now(UTC)]
    tokens = service(clock=lambda: now[0])
    token = access_token(tokens)
    first = tokens.decode_access(token)
    assert tokens.decode_access(token) is first  # the kept claims, no second verification
    now[0] += timedelta(seconds=900 + 9)  # expired 9 s ago: within the leeway
    assert tokens.decode_access(token) is first
    now[0] += timedelta(seconds=2)  # 11 s past its expiry: refused, and forgotten
    with pytest.raises(Unauthorized, match="Invalid or expired token"):
        tokens.decode_access(token)
    assert token not in tokens._verified  # PyJWT (on the real clock) decides next time


def test_the_verified_tokens_kept_are_bounded() -> None:
    tokens = service()
    issued = [access_token(tokens, user_id=f"u{i}") for i in range(VERIFIED_CACHE_SIZE + 10)]
    for token in issued:
        tokens.decode_access(token)
    assert len(tokens._verified) == VERIFIED_CACHE_SIZE
    assert issued[0] not in tokens._verified and issued[-1] in tokens._verified
