"""Every Beanie document class the application binds at start-up."""

from __future__ import annotations

from beanie import Document

from api.infrastructure.persistence.failed_jobs import FailedJobDocument
from api.infrastructure.persistence.outbound_email import OutboundEmailDocument
from api.infrastructure.persistence.tenants import TenantDocument

DOCUMENT_MODELS: list[type[Document]] = [TenantDocument, FailedJobDocument, OutboundEmailDocument]
