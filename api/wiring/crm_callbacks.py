"""CRM callback requests: their store, the contacts they link to (the messaging context's
contact book, read through the CRM port) and their policy (`CALLBACK_*`)."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.crm.callbacks import CallbackContacts, CallbackRequestRepository
from api.domain.messaging.contacts import ContactRepository
from api.infrastructure.persistence.crm.callbacks import BeanieCallbackRequestRepository
from api.usecases.crm.callback_policy import CallbackPolicy
from api.wiring.clients import Clients


class ContactBookCallbackContacts:
    """`CallbackContacts` adapter: the current tenant's live contact with the number."""

    def __init__(self, contacts: ContactRepository) -> None:
        self._contacts = contacts

    async def by_phone(self, phone: str) -> str | None:
        contact = await self._contacts.by_phone(phone)
        return contact.id if contact is not None else None


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(CallbackRequestRepository, BeanieCallbackRequestRepository)
    container.register(CallbackContacts, ContactBookCallbackContacts)
    limits = settings.callbacks
    container.register(
        CallbackPolicy,
        instance=CallbackPolicy(
            rate_per_ip=limits.rate_per_ip,
            ip_window_seconds=limits.ip_window_seconds,
            rate_per_tenant=limits.rate_per_tenant,
            tenant_window_seconds=limits.tenant_window_seconds,
            notify_max_recipients=limits.notify_max_recipients,
            link_base_url=f"{settings.public_base_url}{settings.api_prefix}",
        ),
    )
