"""Every Beanie document class the application binds at start-up."""

from __future__ import annotations

from beanie import Document

from api.infrastructure.persistence.ai import (
    AiSettingsDocument,
    ConversationDocument,
    MessageDocument,
    UsageDocument,
)
from api.infrastructure.persistence.audit import AuditEntryDocument
from api.infrastructure.persistence.failed_jobs import FailedJobDocument
from api.infrastructure.persistence.one_time_tokens import OneTimeTokenDocument
from api.infrastructure.persistence.outbound_email import OutboundEmailDocument
from api.infrastructure.persistence.roles import RoleDocument
from api.infrastructure.persistence.sessions import SessionDocument
from api.infrastructure.persistence.storage import FileDocument, StorageConfigDocument
from api.infrastructure.persistence.tenants import TenantDocument
from api.infrastructure.persistence.users import PlatformUserDocument, UserDocument

DOCUMENT_MODELS: list[type[Document]] = [
    TenantDocument,
    UserDocument,
    PlatformUserDocument,
    RoleDocument,
    SessionDocument,
    OneTimeTokenDocument,
    AuditEntryDocument,
    OutboundEmailDocument,
    FailedJobDocument,
    StorageConfigDocument,
    FileDocument,
    ConversationDocument,
    MessageDocument,
    UsageDocument,
    AiSettingsDocument,
]
