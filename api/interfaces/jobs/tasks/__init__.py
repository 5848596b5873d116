"""Parley's tasks, one module per context: thin entry points that call use cases, like
HTTP routers do. Arguments are ids and scalars only; each body runs in the tenant the job
was queued in. Importing this package declares every task (the worker binds them).
"""

from api.interfaces.jobs.tasks import (
    assistants,
    campaign_sending,
    campaigns,
    contact_imports,
    crm_callbacks,
    crm_leads,
    crm_meetings,
    crm_tickets,
    crm_transcripts,
    email,
    identity,
    knowledge,
    messaging,
    operations,
)

__all__ = [
    "assistants",
    "campaign_sending",
    "campaigns",
    "contact_imports",
    "crm_callbacks",
    "crm_leads",
    "crm_meetings",
    "crm_tickets",
    "crm_transcripts",
    "email",
    "identity",
    "knowledge",
    "messaging",
    "operations",
]
