"""Identity: credentials, tokens, sessions, rate limits, users and roles."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.identity.api_keys import ApiKeyRepository, ApiKeySecrets
from api.domain.identity.auth import (
    AuthPolicy,
    BreachedPasswords,
    OneTimeTokens,
    PasswordHasher,
    RateLimiter,
    RecoveryCodes,
    Revocations,
    SecretBox,
    SessionStore,
    TokenService,
    Totp,
)
from api.domain.identity.roles import RoleRepository
from api.domain.identity.sign_in_codes import SignInCodePolicy, SignInCodes
from api.domain.identity.users import PlatformUserRepository, UserRepository
from api.domain.lifecycle import Closeable, Startable
from api.domain.permissions import SYSTEM_ROLES
from api.infrastructure.cache.rate_limit import RedisRateLimiter
from api.infrastructure.cache.revocations import RedisRevocations
from api.infrastructure.persistence.identity.api_keys import BeanieApiKeyRepository
from api.infrastructure.persistence.identity.one_time_tokens import MongoOneTimeTokens
from api.infrastructure.persistence.identity.roles import BeanieRoleRepository, SystemRoleUpgrade
from api.infrastructure.persistence.identity.sessions import MongoSessionStore
from api.infrastructure.persistence.identity.sign_in_codes import MongoSignInCodes
from api.infrastructure.persistence.identity.users import (
    BeanieUserRepository,
    MongoPlatformUserRepository,
)
from api.infrastructure.security.api_keys import HmacApiKeySecrets
from api.infrastructure.security.breached_passwords import NoBreachCheck, PwnedPasswordsRange
from api.infrastructure.security.passwords import PwdlibPasswordHasher
from api.infrastructure.security.recovery_codes import HmacRecoveryCodes
from api.infrastructure.security.secret_box import FernetSecretBox, derive_dev_key
from api.infrastructure.security.tokens import JwtTokenService, load_signing_keys
from api.infrastructure.security.totp import PyOtpTotp
from api.wiring.clients import Clients


def auth_policy(settings: Settings) -> AuthPolicy:
    auth = settings.auth
    return AuthPolicy(
        password_min_length=auth.password_min_length,
        refresh_ttl_seconds=auth.refresh_token_ttl_days * 86400,
        login_rate_per_ip=auth.login_rate_per_ip,
        login_rate_per_account=auth.login_rate_per_account,
        sensitive_rate_per_ip=auth.sensitive_rate_per_ip,
        lockout_threshold=auth.lockout_threshold,
        lockout_seconds=auth.lockout_minutes * 60,
        reset_ttl_seconds=auth.password_reset_ttl_minutes * 60,
        verification_ttl_seconds=auth.email_verification_ttl_hours * 3600,
        invitation_ttl_seconds=auth.invitation_ttl_hours * 3600,
        public_base_url=settings.public_base_url,
        issuer_name=settings.app_name,
        api_key_rate_per_minute=auth.api_key_rate_limit_per_minute,
    )


def token_service(settings: Settings) -> JwtTokenService:
    auth, security = settings.auth, settings.security
    signing, verifying = load_signing_keys(
        auth.jwt_algorithm,
        security.jwt_secret.get_secret_value(),
        auth.jwt_private_key_file,
        auth.jwt_public_key_file,
    )
    return JwtTokenService(
        algorithm=auth.jwt_algorithm,
        signing_key=signing,
        verifying_key=verifying,
        refresh_secret=security.refresh_token_secret.get_secret_value(),
        issuer=auth.jwt_issuer,
        audience=auth.jwt_audience,
        access_ttl_seconds=auth.access_token_ttl_seconds,
        mfa_ttl_seconds=auth.mfa_challenge_ttl_seconds,
    )


def secret_box(settings: Settings) -> FernetSecretBox:
    key, previous = settings.auth.encryption_key, settings.auth.encryption_previous_keys
    if key is not None:
        older = previous.get_secret_value().split(",") if previous is not None else []
        return FernetSecretBox(key.get_secret_value(), [k.strip() for k in older])
    # Development only (production refuses to start without ENCRYPTION_KEY).
    return FernetSecretBox(derive_dev_key(settings.security.jwt_secret.get_secret_value()))


def breached_passwords(settings: Settings) -> PwnedPasswordsRange | NoBreachCheck:
    """Have I Been Pwned's range API, by default in production only."""
    auth = settings.auth
    check = auth.breached_password_check or ("hibp" if settings.is_production else "off")
    if check == "off":
        return NoBreachCheck()
    return PwnedPasswordsRange(
        auth.breached_password_api_url, auth.breached_password_timeout_seconds
    )


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    auth = settings.auth
    container.register(AuthPolicy, instance=auth_policy(settings))
    container.register(TokenService, instance=token_service(settings))
    container.register(
        PasswordHasher,
        instance=PwdlibPasswordHasher(
            auth.argon2_time_cost, auth.argon2_memory_cost, auth.argon2_parallelism
        ),
    )
    container.register(SecretBox, instance=secret_box(settings))
    container.register(Totp, instance=PyOtpTotp())
    breaches = breached_passwords(settings)
    container.register(BreachedPasswords, instance=breaches)
    container.register(Closeable, instance=breaches)
    container.register(
        RecoveryCodes,
        instance=HmacRecoveryCodes(settings.security.refresh_token_secret.get_secret_value()),
    )
    container.register(
        Revocations, instance=RedisRevocations(clients.redis, auth.access_token_ttl_seconds)
    )
    container.register(RateLimiter, instance=RedisRateLimiter(clients.redis))
    container.register(SessionStore, instance=MongoSessionStore(auth.refresh_reuse_grace_seconds))
    container.register(
        OneTimeTokens,
        instance=MongoOneTimeTokens(settings.security.refresh_token_secret.get_secret_value()),
    )
    container.register(
        ApiKeySecrets,
        instance=HmacApiKeySecrets(settings.security.refresh_token_secret.get_secret_value()),
    )
    container.register(ApiKeyRepository, BeanieApiKeyRepository)
    container.register(
        SignInCodes,
        instance=MongoSignInCodes(settings.security.refresh_token_secret.get_secret_value()),
    )
    otp = settings.otp
    container.register(
        SignInCodePolicy,
        instance=SignInCodePolicy(
            ttl_seconds=otp.ttl_seconds,
            max_attempts=otp.max_attempts,
            requests_per_identifier=otp.requests_per_identifier,
            verify_per_identifier=otp.verify_per_identifier,
            window_seconds=otp.window_seconds,
            whatsapp_template=otp.whatsapp_template,
            whatsapp_language=otp.whatsapp_language,
        ),
    )
    container.register(UserRepository, BeanieUserRepository)
    container.register(PlatformUserRepository, MongoPlatformUserRepository)
    container.register(RoleRepository, BeanieRoleRepository)
    # Existing tenants' system roles follow the catalog (new permissions reach owners).
    # Existing tenants get the system roles added since (e.g. `agent`).
    upgrade = SystemRoleUpgrade(
        {name: perms for name, (_, perms) in SYSTEM_ROLES.items()},
        {name: description for name, (description, _) in SYSTEM_ROLES.items()},
    )
    container.register(Startable, instance=upgrade)
