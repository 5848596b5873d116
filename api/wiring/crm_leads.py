"""The CRM's leads: their repositories, the messaging reads they need (contacts and
conversations through ports), the import files (stored like contact imports', kept as
`lead_import`) and the owner email's link."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.crm.lead_imports import (
    LeadImportFiles,
    LeadImportRepository,
    StaleLeadImports,
)
from api.domain.crm.leads import LeadContacts, LeadConversations, LeadRepository
from api.infrastructure.persistence.crm.lead_imports import (
    BeanieLeadImportRepository,
    PlatformStaleLeadImports,
)
from api.infrastructure.persistence.crm.lead_links import (
    MessagingLeadContacts,
    MessagingLeadConversations,
)
from api.infrastructure.persistence.crm.leads import BeanieLeadRepository
from api.usecases.crm.lead_notices import LeadLinks
from api.wiring.clients import Clients
from api.wiring.contact_imports import FileStoreImportFiles


class LeadFileStoreImportFiles(FileStoreImportFiles):
    """`LeadImportFiles` adapter."""

    purpose = "lead_import"


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(LeadRepository, BeanieLeadRepository)
    container.register(LeadImportRepository, BeanieLeadImportRepository)
    container.register(StaleLeadImports, instance=PlatformStaleLeadImports())
    container.register(LeadContacts, MessagingLeadContacts)
    container.register(LeadConversations, MessagingLeadConversations)
    container.register(LeadImportFiles, LeadFileStoreImportFiles)  # Storages: discovered later
    container.register(
        LeadLinks, instance=LeadLinks(base_url=f"{settings.public_base_url}{settings.api_prefix}")
    )
