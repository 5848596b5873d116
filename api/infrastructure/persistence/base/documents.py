"""Every Beanie document class the application binds at start-up."""

from __future__ import annotations

from beanie import Document

from api.infrastructure.persistence.ai.assistant_runs import (
    AssistantRunDocument,
    FollowUpAlarmDocument,
)
from api.infrastructure.persistence.ai.assistants import AssistantDocument
from api.infrastructure.persistence.ai.conversations import AiConversationDocument
from api.infrastructure.persistence.ai.knowledge import KnowledgeDocumentDocument
from api.infrastructure.persistence.ai.knowledge_index import KnowledgeChunkDocument
from api.infrastructure.persistence.ai.messages import AiMessageDocument
from api.infrastructure.persistence.ai.quota import QuotaDayDocument
from api.infrastructure.persistence.ai.settings import AiSettingsDocument
from api.infrastructure.persistence.ai.usage import UsageDocument
from api.infrastructure.persistence.audit.entries import AuditEntryDocument
from api.infrastructure.persistence.crm.callbacks import CallbackRequestDocument
from api.infrastructure.persistence.crm.departments import DepartmentDocument
from api.infrastructure.persistence.crm.lead_imports import LeadImportDocument
from api.infrastructure.persistence.crm.leads import LeadDocument
from api.infrastructure.persistence.crm.meetings import MeetingDocument, MeetingReminderDocument
from api.infrastructure.persistence.crm.tickets import TicketCounterDocument, TicketDocument
from api.infrastructure.persistence.crm.transcripts import TranscriptDocument
from api.infrastructure.persistence.email.outbound import OutboundEmailDocument
from api.infrastructure.persistence.files.storage import FileDocument, StorageConfigDocument
from api.infrastructure.persistence.identity.api_keys import ApiKeyDocument
from api.infrastructure.persistence.identity.one_time_tokens import OneTimeTokenDocument
from api.infrastructure.persistence.identity.roles import RoleDocument
from api.infrastructure.persistence.identity.sessions import SessionDocument
from api.infrastructure.persistence.identity.sign_in_codes import SignInCodeDocument
from api.infrastructure.persistence.identity.users import PlatformUserDocument, UserDocument
from api.infrastructure.persistence.messaging.campaigns import (
    CampaignDocument,
    CampaignRecipientDocument,
    CampaignRunDocument,
)
from api.infrastructure.persistence.messaging.channels import ChannelDocument
from api.infrastructure.persistence.messaging.contact_exports import ContactExportDocument
from api.infrastructure.persistence.messaging.contact_identities import ContactIdentityDocument
from api.infrastructure.persistence.messaging.contact_imports import (
    ContactImportDocument,
    ImportChunkDocument,
)
from api.infrastructure.persistence.messaging.contacts import ContactDocument
from api.infrastructure.persistence.messaging.conversations import ConversationDocument
from api.infrastructure.persistence.messaging.data_deletion import DataDeletionDocument
from api.infrastructure.persistence.messaging.idempotency import IdempotencyKeyDocument
from api.infrastructure.persistence.messaging.inbox_settings import InboxSettingsDocument
from api.infrastructure.persistence.messaging.messages import MessageDocument
from api.infrastructure.persistence.messaging.segments import SegmentDocument
from api.infrastructure.persistence.messaging.teams import TeamDocument
from api.infrastructure.persistence.messaging.templates import TemplateDocument
from api.infrastructure.persistence.messaging.webhooks import (
    WebhookEventDocument,
    WebhookItemDocument,
)
from api.infrastructure.persistence.operations.failed_jobs import FailedJobDocument
from api.infrastructure.persistence.plans.plans import PlanDocument
from api.infrastructure.persistence.tenants.profile import TenantProfileDocument
from api.infrastructure.persistence.tenants.tenants import TenantDocument

DOCUMENT_MODELS: list[type[Document]] = [
    TenantDocument,
    PlanDocument,
    TenantProfileDocument,
    UserDocument,
    PlatformUserDocument,
    RoleDocument,
    SessionDocument,
    OneTimeTokenDocument,
    ApiKeyDocument,
    SignInCodeDocument,
    AuditEntryDocument,
    OutboundEmailDocument,
    FailedJobDocument,
    StorageConfigDocument,
    FileDocument,
    AiConversationDocument,
    AiMessageDocument,
    UsageDocument,
    AiSettingsDocument,
    QuotaDayDocument,
    AssistantDocument,
    AssistantRunDocument,
    FollowUpAlarmDocument,
    KnowledgeDocumentDocument,
    KnowledgeChunkDocument,
    ChannelDocument,
    WebhookEventDocument,
    WebhookItemDocument,
    ContactDocument,
    ContactIdentityDocument,
    ContactImportDocument,
    ImportChunkDocument,
    ConversationDocument,
    MessageDocument,
    TemplateDocument,
    SegmentDocument,
    ContactExportDocument,
    IdempotencyKeyDocument,
    DataDeletionDocument,
    TeamDocument,
    InboxSettingsDocument,
    CampaignDocument,
    CampaignRunDocument,
    CampaignRecipientDocument,
    DepartmentDocument,
    CallbackRequestDocument,
    MeetingDocument,
    MeetingReminderDocument,
    LeadDocument,
    LeadImportDocument,
    TicketDocument,
    TicketCounterDocument,
    TranscriptDocument,
]
