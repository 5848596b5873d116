"""Erasing a customer's personal data (the right to erasure, GDPR article 17), whatever
the channel they wrote on: asked by the tenant (`POST /contacts/{id}/erase`) or by Meta
for an Instagram user (`HandleDataDeletion`). One procedure serves both.

What goes, in this order. The contact itself goes last (but for a safety pass), so a
run stopped part-way (the database or the storage away: 503) leaves it to erase, and
running it again completes what is left (each step finds only what is still there):

1. the contact's summary on its conversations (the conversations stay, the contact's id
   on them too);
2. the files they sent (the copies of their media in the tenant's storage: bytes, then
   record), read from the messages' links before the messages lose them;
3. what they wrote: the text, content and file link of every inbound message of those
   conversations (`content: {"erased": true}`); and every event of those conversations
   still kept in the tenant's real-time log (what reconnecting sockets replay: the
   person's messages, the business's replies, the conversation's contact summary);
4. their campaign recipient rows keep their status and times, lose the address, name and
   rendered values; rows still pending are skipped (`deleted`);
5. the raw webhook deliveries that name them (by their number, BSUID or channel user ids,
   those a deletion or a merge took off the contact and those a number or user id change
   replaced included, in this tenant; `webhook_subjects`) lose their body: a processed
   one at once, one still being processed (its other items may need it) as soon as that
   ends, one still queued (whom it names not known yet) when its processing ends, if it
   names them;
6. every channel identity (Telegram, Messenger, Instagram user ids): writing again, the
   person is a new contact;
7. the contact itself: name, number, WhatsApp ids, username, email, language,
   attributes, tags; it is deleted and stays so (`erased_at`); from now on the person
   writing again is a new contact;
8. steps 1 to 3 once more: a message stored while this ran (its processing had found
   the contact before step 7) is erased too; left is only one whose processing found the
   contact in the last moment and stores it after this pass (milliseconds: the steps are
   not one transaction).

Every contact merged into this one (at any depth) was the same person: each goes through
steps 1 to 7 first (their records moved to this one when merged, but their own record
keeps their name, email and kept-aside number, and campaign rows keep their id).

What stays: the business's own messages (outbound; an agent's reply may name the person),
CRM records (leads, tickets, meetings: the tenant's business records, with their own
deletes), the row results of imports (a failed row keeps its cell; an import's file is
deleted when it ends), exports already made (they expire by themselves), and the audit
log (`contact.erased`, with counts and no personal data). Raw webhook deliveries stored
before deliveries recorded whom they name, or naming the person only by a number
replaced before contacts kept their former ids, keep it until they expire
(`WEBHOOK_RETENTION_DAYS`); sockets connected at the time received what they received.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.domain.errors import Forbidden, NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.campaigns import CampaignRecipientRepository
from api.domain.messaging.contact_merge import ContactRecords
from api.domain.messaging.contacts import (
    Contact,
    ContactIdentityRepository,
    ContactRepository,
)
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.messages import MediaSink, MessageRepository
from api.domain.messaging.realtime import InboxEventLog
from api.domain.messaging.webhook_subjects import contact_subjects
from api.domain.messaging.webhooks import WebhookEventStore
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.contact_rules import CONTACT_NOT_FOUND


class ErasureOutsideDepartments(Forbidden):
    """A department-limited user asked to erase a contact with records elsewhere."""

    code = "erasure_outside_departments"
    title = "Records outside your departments"


class ErasureReport(BaseModel):
    """What an erasure took away."""

    contact_id: str
    conversations: int
    messages_erased: int
    files_deleted: int
    campaign_rows_erased: int
    realtime_events_erased: int
    webhook_deliveries_erased: int
    merged_contacts_erased: int
    erased_at: datetime


class ContactErasure:
    """The erasure of one contact in the current tenant (see the module's doc)."""

    def __init__(
        self,
        contacts: ContactRepository,
        identities: ContactIdentityRepository,
        conversations: ConversationRepository,
        messages: MessageRepository,
        media: MediaSink,
        recipients: CampaignRecipientRepository,
        events: InboxEventLog,
        webhooks: WebhookEventStore,
        auditor: Auditor,
    ) -> None:
        self._contacts = contacts
        self._identities = identities
        self._conversations = conversations
        self._messages = messages
        self._media = media
        self._recipients = recipients
        self._events = events
        self._webhooks = webhooks
        self._auditor = auditor

    async def erase(
        self, contact: Contact, *, actor_id: str | None, audit: dict[str, Any]
    ) -> ErasureReport:
        assert contact.id is not None  # noqa: S101 - a stored contact
        at = stored_now()
        tenant_id = current_tenant()
        report = ErasureReport(
            contact_id=contact.id, conversations=0, messages_erased=0, files_deleted=0,
            campaign_rows_erased=0, realtime_events_erased=0, webhook_deliveries_erased=0,
            merged_contacts_erased=0, erased_at=at,
        )  # fmt: skip
        # The contacts merged into this one were the same person: erased with it, first.
        merged = await self._merged_into(contact.id)
        for source in merged:
            await self._erase_person(tenant_id, source, report)
            report.merged_contacts_erased += int(await self._contacts.erase(source.id or "", at))
        await self._erase_person(tenant_id, contact, report)
        await self._contacts.erase(contact.id, at)
        # A message stored while this ran (its processing had found the contact before it
        # was erased) is erased too: once erased, the contact is found no more (the
        # person writing again is a new contact), so this last pass leaves only a
        # processing that found it in the last moment and stores after this.
        for person in (*merged, contact):
            await self._erase_conversations(tenant_id, person.id or "", report, count=False)
        counts = report.model_dump(exclude={"contact_id", "erased_at"})
        await self._auditor.record(
            "contact.erased", "contact", contact.id, actor_id=actor_id,
            changes={**audit, **counts},
        )  # fmt: skip
        return report

    async def _erase_person(self, tenant_id: str, contact: Contact, report: ErasureReport) -> None:
        """Steps 1-6 for one contact (the contact itself is erased by the caller)."""
        assert contact.id is not None  # noqa: S101 - a stored contact
        at = report.erased_at
        await self._erase_conversations(tenant_id, contact.id, report, count=True)
        report.campaign_rows_erased += await self._recipients.erase_contact(contact.id, at)
        identities = await self._identities.of_contact(contact.id)
        past = await self._contacts.past_identity(contact.id)
        report.webhook_deliveries_erased += await self._webhooks.erase_subjects(
            contact_subjects(tenant_id, contact, identities, past), at
        )
        await self._identities.forget_contact(contact.id)

    async def _erase_conversations(
        self, tenant_id: str, contact_id: str, report: ErasureReport, *, count: bool
    ) -> None:
        """Steps 1-3 for one contact: its conversations' summary, the files it sent, what
        it wrote, their real-time events (`count`: the conversations are added to the
        report; a second pass finds the same ones)."""
        conversations = await self._conversations.erase_contact(contact_id)
        if count:
            report.conversations += len(conversations)
        for conversation_id in conversations:
            for file_id in await self._messages.inbound_files(conversation_id):
                report.files_deleted += int(await self._media.remove(file_id))
            report.messages_erased += await self._messages.erase_inbound(conversation_id)
        report.realtime_events_erased += await self._events.forget_conversations(
            tenant_id, conversations
        )

    async def _merged_into(self, contact_id: str) -> list[Contact]:
        """Every contact merged into this one, at any depth (a merge's source may have been
        the target of an earlier merge)."""
        found: list[Contact] = []
        seen, targets = {contact_id}, [contact_id]
        while targets:
            sources = [
                source
                for target in targets
                for source in await self._contacts.merged_sources(target)
                if source not in seen
            ]
            seen.update(sources)
            targets = sources
            for source in sources:
                merged = await self._contacts.get(source)
                if merged is not None and merged.id is not None:
                    found.append(merged)
        return found


class EraseContact:
    """Erase a contact of the tenant for good (`contacts:erase`): live, deleted or merged,
    once (an erased contact, like another tenant's, is 404). A department-limited user
    may erase only a contact whose department-routed records are all in their
    departments (else 403 `erasure_outside_departments`, nothing erased)."""

    def __init__(
        self, contacts: ContactRepository, records: ContactRecords, erasure: ContactErasure
    ) -> None:
        self._contacts = contacts
        self._records = records
        self._erasure = erasure

    async def execute(self, principal: Principal, contact_id: str) -> ErasureReport:
        require_permission(principal, Permission.CONTACTS_ERASE)
        contact = await self._contacts.get(contact_id)
        if contact is None or contact.id is None or contact.erased_at is not None:
            raise NotFound(CONTACT_NOT_FOUND)
        if await self._records.outside_scope(contact.id):
            raise ErasureOutsideDepartments(
                "Some of the contact's records are outside your departments."
            )
        return await self._erasure.erase(
            contact,
            actor_id=principal.user_id,
            audit=audit_extra(principal, {"reason": "request"}),
        )
