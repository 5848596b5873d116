"""The composition root: the only place (with main.py and worker.py) naming concrete adapters.

`build_container` is called by `bootstrap.running` (API lifespan, worker processes, CLI)
with the long-lived clients it created; tests call it with their own. Clients and stateful
adapters are registered as instances. Use cases and repositories hold no per-request state
(the tenant and request come from the context), so each use case is built once per
container and reused: resolving it per request cost a measurable share of a fast read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import httpx
import punq
from celery import Celery
from redis.asyncio import Redis

from api.config import Settings
from api.domain.ai.chat import (
    AiSettingsRepository,
    ChatModels,
    ConversationRepository,
    MessageRepository,
    StopSignals,
    UsageLedger,
)
from api.domain.audit import AuditLog
from api.domain.email.messages import EmailRenderer, EmailSender, OutboundEmailRepository
from api.domain.files.downloads import DownloadLinks
from api.domain.files.storage import (
    BlobStorageFactory,
    ContentSniffer,
    FileCatalog,
    FilenameSanitizer,
    FileRepository,
    StorageConfigRepository,
)
from api.domain.identity.auth import (
    AuthPolicy,
    OneTimeTokens,
    PasswordHasher,
    RateLimiter,
    Revocations,
    SecretBox,
    SessionStore,
    TokenService,
    Totp,
)
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import PlatformUserRepository, UserRepository
from api.domain.jobs import FailedJobLog, Heartbeats, IdempotencyGuard, JobQueue
from api.domain.operations.health import CachePing, DatabasePing
from api.domain.tenants.tenant import TenantDirectory, TenantRepository
from api.infrastructure.ai.catalog import ProviderChatModels
from api.infrastructure.ai.providers import ChatProvider, OllamaProvider, OpenAIProvider
from api.infrastructure.cache.rate_limit import RedisRateLimiter
from api.infrastructure.cache.redis import RedisPing
from api.infrastructure.cache.revocations import RedisRevocations
from api.infrastructure.cache.stop_signals import RedisStopSignals
from api.infrastructure.email.outbox import OutboxEmailSender, UnconfiguredEmailSender
from api.infrastructure.email.renderer import JinjaEmailRenderer
from api.infrastructure.email.smtp import SmtpEmailSender
from api.infrastructure.jobs.heartbeats import RedisHeartbeats
from api.infrastructure.jobs.idempotency import RedisIdempotencyGuard
from api.infrastructure.jobs.queue import CeleryJobQueue
from api.infrastructure.persistence.ai.chat import (
    BeanieConversationRepository,
    BeanieMessageRepository,
    MongoAiSettingsRepository,
    MongoUsageLedger,
)
from api.infrastructure.persistence.audit.entries import MongoAuditLog
from api.infrastructure.persistence.base.mongo import MongoClient, MongoPing
from api.infrastructure.persistence.email.outbound import BeanieOutboundEmailRepository
from api.infrastructure.persistence.files.storage import (
    BeanieFileRepository,
    BeanieStorageConfigRepository,
)
from api.infrastructure.persistence.identity.one_time_tokens import MongoOneTimeTokens
from api.infrastructure.persistence.identity.roles import BeanieRoleRepository
from api.infrastructure.persistence.identity.sessions import MongoSessionStore
from api.infrastructure.persistence.identity.users import (
    BeanieUserRepository,
    MongoPlatformUserRepository,
)
from api.infrastructure.persistence.operations.failed_jobs import MongoFailedJobLog
from api.infrastructure.persistence.tenants.directory import CachingTenantDirectory
from api.infrastructure.persistence.tenants.tenants import PlatformTenantRepository
from api.infrastructure.security.passwords import PwdlibPasswordHasher
from api.infrastructure.security.secret_box import FernetSecretBox, derive_dev_key
from api.infrastructure.security.tokens import JwtTokenService, load_signing_keys
from api.infrastructure.security.totp import PyOtpTotp
from api.infrastructure.storage.factory import DeploymentBlobStorageFactory
from api.infrastructure.storage.local import LocalUrlSigner
from api.infrastructure.storage.sniff import sanitize_filename, sniff_content_type
from api.usecases.ai.chat import Ask, StopGeneration
from api.usecases.ai.history import (
    ClearHistory,
    DeleteConversation,
    ListConversations,
    ReadConversation,
)
from api.usecases.ai.models import (
    AiPolicy,
    GetAiSettings,
    GetUsage,
    ListModels,
    ModelAccess,
    TokenBudget,
    UpdateAiSettings,
)
from api.usecases.email.deliver_email import DeliverEmail
from api.usecases.files.delete_file import DeleteFile
from api.usecases.files.describe_profiles import DescribeProfiles
from api.usecases.files.file_store import FileStore
from api.usecases.files.get_file import GetFile
from api.usecases.files.get_storage_settings import GetStorageSettings
from api.usecases.files.list_storage_providers import ListStorageProviders
from api.usecases.files.open_local_download import OpenLocalDownload
from api.usecases.files.rules import StoragePolicy
from api.usecases.files.set_avatar import SetAvatar
from api.usecases.files.storages import Storages
from api.usecases.files.store_upload import StoreUpload
from api.usecases.files.update_storage_settings import UpdateStorageSettings
from api.usecases.identity.account_mail import Mailer
from api.usecases.identity.account_security import AccountSecurity
from api.usecases.identity.authenticate import Authenticate
from api.usecases.identity.change_password import ChangePassword
from api.usecases.identity.create_role import CreateRole
from api.usecases.identity.create_user import CreateUser
from api.usecases.identity.delete_role import DeleteRole
from api.usecases.identity.delete_user import DeleteUser
from api.usecases.identity.disable_mfa import DisableMfa
from api.usecases.identity.enable_mfa import EnableMfa
from api.usecases.identity.ensure_platform_admin import EnsurePlatformAdmin
from api.usecases.identity.get_me import GetMe
from api.usecases.identity.get_role import GetRole
from api.usecases.identity.get_user import GetUser
from api.usecases.identity.list_permissions import ListPermissions
from api.usecases.identity.list_roles import ListRoles
from api.usecases.identity.list_users import ListUsers
from api.usecases.identity.login import Login
from api.usecases.identity.logout import Logout
from api.usecases.identity.mfa_codes import MfaCodes
from api.usecases.identity.refresh_tokens import RefreshTokens
from api.usecases.identity.register import Register
from api.usecases.identity.request_password_reset import RequestPasswordReset
from api.usecases.identity.resend_verification import ResendVerification
from api.usecases.identity.reset_password import ResetPassword
from api.usecases.identity.search_audit_log import SearchAuditLog
from api.usecases.identity.set_user_active import ActivateUser, DeactivateUser
from api.usecases.identity.set_user_roles import SetUserRoles
from api.usecases.identity.start_mfa_setup import StartMfaSetup
from api.usecases.identity.unlock_user import UnlockUser
from api.usecases.identity.update_role import UpdateRole
from api.usecases.identity.update_user import UpdateUser
from api.usecases.identity.verify_email import VerifyEmail
from api.usecases.identity.verify_mfa_login import VerifyMfaLogin
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import Authority, SessionEnder
from api.usecases.kernel.describe_users import DescribeUsers
from api.usecases.kernel.mailer import QueueEmail
from api.usecases.kernel.sessions import PermissionResolver, SessionIssuer
from api.usecases.kernel.tenancy import ResolveTenant
from api.usecases.kernel.tenant_setup import EnsureTenantSetup
from api.usecases.operations.failed_jobs import ListFailedJobs, RecordFailedJob
from api.usecases.operations.health import CheckCacheHealth, CheckDatabaseHealth, CheckJobsHealth
from api.usecases.operations.record_heartbeat import RecordHeartbeat
from api.usecases.tenants.impersonation import ImpersonateTenantUser
from api.usecases.tenants.onboarding import OnboardTenant
from api.usecases.tenants.platform import (
    BrowseTenants,
    ChangeTenantStatus,
    CheckSubdomainAvailability,
    GetTenant,
    ProvisionTenant,
    SearchTenants,
    SuspendTenant,
    UpdateTenant,
)
from api.usecases.tenants.tenants import (
    CreateTenant,
    EnsureDefaultTenant,
    GetCurrentTenant,
    ListTenants,
    SetTenantStatus,
)

log = logging.getLogger(__name__)

USE_CASES: tuple[type, ...] = (
    CheckDatabaseHealth,
    CheckCacheHealth,
    CheckJobsHealth,
    CreateTenant,
    EnsureDefaultTenant,
    GetCurrentTenant,
    ListTenants,
    SetTenantStatus,
    QueueEmail,
    DeliverEmail,
    RecordFailedJob,
    ListFailedJobs,
    RecordHeartbeat,
    Auditor,
    SearchAuditLog,
    Accounts,
    PermissionResolver,
    SessionIssuer,
    DescribeUsers,
    Authenticate,
    Login,
    VerifyMfaLogin,
    RefreshTokens,
    Logout,
    GetMe,
    EnsurePlatformAdmin,
    EnsureTenantSetup,
    OnboardTenant,
    Authority,
    SessionEnder,
    ListUsers,
    GetUser,
    CreateUser,
    UpdateUser,
    DeleteUser,
    SetUserRoles,
    ActivateUser,
    DeactivateUser,
    UnlockUser,
    ListPermissions,
    ListRoles,
    GetRole,
    CreateRole,
    UpdateRole,
    DeleteRole,
    AccountSecurity,
    Mailer,
    Register,
    VerifyEmail,
    ResendVerification,
    RequestPasswordReset,
    ResetPassword,
    ChangePassword,
    MfaCodes,
    StartMfaSetup,
    EnableMfa,
    DisableMfa,
    BrowseTenants,
    SearchTenants,
    GetTenant,
    ProvisionTenant,
    ChangeTenantStatus,
    UpdateTenant,
    SuspendTenant,
    CheckSubdomainAvailability,
    ImpersonateTenantUser,
    Storages,
    FileStore,
    GetStorageSettings,
    UpdateStorageSettings,
    ListStorageProviders,
    StoreUpload,
    GetFile,
    DeleteFile,
    OpenLocalDownload,
    SetAvatar,
    DescribeProfiles,
    ModelAccess,
    TokenBudget,
    ListModels,
    Ask,
    StopGeneration,
    ListConversations,
    ReadConversation,
    DeleteConversation,
    ClearHistory,
    GetAiSettings,
    UpdateAiSettings,
    GetUsage,
)


def email_sender(settings: Settings) -> EmailSender:
    """SMTP when configured; else the outbox folder in development, a loud refusal otherwise."""
    if settings.smtp.host:
        return SmtpEmailSender(settings.smtp)
    if settings.is_production:
        log.warning("SMTP_HOST is not set: every email will fail (see failed jobs)")
        return UnconfiguredEmailSender()
    return OutboxEmailSender(
        settings.mail.outbox_dir,
        from_address=settings.smtp.from_address,
        from_name=settings.smtp.from_name,
    )


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
        public_base_url=settings.mail.public_base_url.rstrip("/"),
        issuer_name=settings.app_name,
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
    key = settings.auth.encryption_key
    if key is not None:
        return FernetSecretBox(key.get_secret_value())
    # Development only (production refuses to start without ENCRYPTION_KEY).
    return FernetSecretBox(derive_dev_key(settings.security.jwt_secret.get_secret_value()))


def register_identity(container: punq.Container, settings: Settings, redis: Redis) -> None:
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
    container.register(Revocations, instance=RedisRevocations(redis, auth.access_token_ttl_seconds))
    container.register(RateLimiter, instance=RedisRateLimiter(redis))
    container.register(SessionStore, instance=MongoSessionStore(auth.refresh_reuse_grace_seconds))
    container.register(
        OneTimeTokens,
        instance=MongoOneTimeTokens(settings.security.refresh_token_secret.get_secret_value()),
    )
    container.register(UserRepository, BeanieUserRepository)
    container.register(PlatformUserRepository, MongoPlatformUserRepository)
    container.register(RoleRepository, BeanieRoleRepository)
    audit = MongoAuditLog(auth.audit_retention_days)
    container.register(AuditLog, instance=audit)
    container.register(MongoAuditLog, instance=audit)


DOWNLOAD_LINK_LABEL = b"parley.storage.local-download-links"


def download_link_secret(settings: Settings) -> str:
    """The local download links' key: derived from JWT_SECRET under a label of its own, so
    a link signature can never stand in for a token (or the other way round)."""
    secret = settings.security.jwt_secret.get_secret_value().encode()
    return hmac.new(secret, DOWNLOAD_LINK_LABEL, hashlib.sha256).hexdigest()


def register_storage(container: punq.Container, settings: Settings) -> None:
    storage = settings.storage
    signer = LocalUrlSigner(download_link_secret(settings))
    factory = DeploymentBlobStorageFactory(
        storage, local_signer=signer, public_base_url=settings.mail.public_base_url
    )
    container.register(BlobStorageFactory, instance=factory)
    container.register(DownloadLinks, instance=signer)
    container.register(ContentSniffer, instance=sniff_content_type)
    container.register(FilenameSanitizer, instance=sanitize_filename)
    container.register(
        StoragePolicy,
        instance=StoragePolicy(
            max_upload_bytes=storage.max_upload_bytes,
            max_avatar_bytes=storage.max_avatar_bytes,
            allowed_content_types=frozenset(storage.allowed_content_types),
            signed_url_ttl_seconds=storage.signed_url_ttl_seconds,
        ),
    )
    # One instance: it caches decrypted (immutable) settings versions.
    container.register(
        StorageConfigRepository, BeanieStorageConfigRepository, scope=punq.Scope.singleton
    )
    container.register(FileRepository, BeanieFileRepository)
    container.register(FileCatalog, BeanieFileRepository)


def ai_policy(settings: Settings) -> AiPolicy:
    ai = settings.ai
    return AiPolicy(
        default_model=ai.ai_default_model,
        system_prompt=ai.ai_system_prompt,
        context_max_turns=ai.ai_context_max_turns,
        context_max_tokens=ai.ai_context_max_tokens,
        max_message_chars=ai.ai_max_message_chars,
        keepalive_seconds=ai.ai_keepalive_seconds,
        start_grace_seconds=ai.ai_start_grace_seconds,
        first_token_timeout_seconds=ai.ai_first_token_timeout_seconds,
        token_timeout_seconds=ai.ai_token_timeout_seconds,
    )


def chat_models(settings: Settings) -> ProviderChatModels:
    """The configured providers: Ollama when `OLLAMA_HOST` is set, an OpenAI-compatible
    server when `OPENAI_API_KEY` or `OPENAI_BASE_URL` is."""
    ai = settings.ai
    # Connecting and writing are bounded here; the wait for tokens by the use case.
    timeout = httpx.Timeout(
        ai.ai_connect_timeout_seconds,
        read=max(ai.ai_first_token_timeout_seconds, ai.ai_token_timeout_seconds),
    )
    listing = httpx.AsyncClient(timeout=httpx.Timeout(ai.ai_connect_timeout_seconds * 2))
    providers: list[ChatProvider] = []
    if ai.ollama_host:
        providers.append(
            OllamaProvider(listing, host=ai.ollama_host, only=ai.ollama_models, timeout=timeout)
        )
    if ai.openai_enabled:
        providers.append(
            OpenAIProvider(
                listing, api_key=ai.openai_api_key, base_url=ai.openai_base_url,
                only=ai.openai_models, timeout=timeout,
            )
        )  # fmt: skip
    return ProviderChatModels(providers, ai.ai_models_cache_seconds, closing=[listing])


def register_ai(container: punq.Container, settings: Settings, redis: Redis) -> None:
    models = chat_models(settings)
    container.register(ChatModels, instance=models)
    container.register(ProviderChatModels, instance=models)
    stops = RedisStopSignals(redis)
    container.register(StopSignals, instance=stops)
    container.register(RedisStopSignals, instance=stops)
    container.register(AiPolicy, instance=ai_policy(settings))
    container.register(ConversationRepository, BeanieConversationRepository)
    container.register(MessageRepository, BeanieMessageRepository)
    container.register(UsageLedger, MongoUsageLedger)
    container.register(AiSettingsRepository, MongoAiSettingsRepository)


def build_container(
    settings: Settings, *, mongo: MongoClient, redis: Redis, celery: Celery
) -> punq.Container:
    container = punq.Container()
    container.register(Settings, instance=settings)
    container.register(Redis, instance=redis)

    # Ports -> adapters
    container.register(DatabasePing, instance=MongoPing(mongo))
    container.register(CachePing, instance=RedisPing(redis))
    tenants = PlatformTenantRepository()
    container.register(TenantRepository, instance=tenants)
    directory = CachingTenantDirectory(tenants, settings.tenancy.tenant_cache_ttl_seconds)
    container.register(TenantDirectory, instance=directory)
    container.register(JobQueue, instance=CeleryJobQueue(celery))
    container.register(IdempotencyGuard, instance=RedisIdempotencyGuard(redis))
    container.register(Heartbeats, instance=RedisHeartbeats(redis))
    failed_jobs = MongoFailedJobLog(settings.jobs.failed_jobs_retention_days)
    container.register(FailedJobLog, instance=failed_jobs)
    container.register(MongoFailedJobLog, instance=failed_jobs)
    container.register(OutboundEmailRepository, BeanieOutboundEmailRepository)
    container.register(EmailRenderer, instance=JinjaEmailRenderer())
    container.register(EmailSender, instance=email_sender(settings))
    register_identity(container, settings, redis)
    register_storage(container, settings)
    register_ai(container, settings, redis)

    # Use cases (ResolveTenant runs on every request: one shared, stateless instance)
    container.register(ResolveTenant, instance=ResolveTenant(directory))
    for use_case in USE_CASES:
        container.register(use_case, scope=punq.Scope.singleton)
    return container
