"""The contacts API's use cases: create, read, list (search, tag, segment, consent),
change, soft delete, opt out and in, and the stats (`contacts:read`, `contacts:write`).

Rules are in `contact_rules`. Audited: `contact.created`, `contact.updated` (what
changed), `contact.deleted`, `contact.opted_out`, `contact.opted_in`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from api.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.contacts import (
    ConsentChange,
    ConsentSource,
    Contact,
    ContactPage,
    ContactQuery,
    ContactRepository,
    ContactSettingsSource,
    ContactSource,
    ContactStats,
)
from api.domain.messaging.segments import SegmentRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.contact_rules import (
    ContactConsent,
    check_phone_free,
    checked_attributes,
    checked_language,
    live_contact,
    normalised_tags,
    parsed_phone,
)
from api.usecases.messaging.inbox_reads import bounded

SEGMENT_NOT_FOUND = "Segment not found."
NEEDS_ADDRESS = "A contact needs a phone number or an email address."
_AUDITED = ("name", "phone", "email", "language", "attributes", "tags")


class NewContact(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, min_length=3, max_length=40)
    email: EmailStr | None = Field(default=None, max_length=254)
    language: str | None = Field(default=None, max_length=20)
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    source: ContactSource = ContactSource.MANUAL


class ContactChanges(BaseModel):
    """The fields to change; a field not set is left as it is, a null clears it.
    `attributes` merge (a null value removes that key); `tags` replace."""

    model_config = ConfigDict(frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, min_length=3, max_length=40)
    email: EmailStr | None = Field(default=None, max_length=254)
    language: str | None = Field(default=None, max_length=20)
    attributes: dict[str, Any] | None = None
    tags: list[str] | None = None


def _audited(contact: Contact) -> dict[str, Any]:
    return contact.model_dump(mode="json", include=set(_AUDITED))


class CreateContact:
    def __init__(
        self, contacts: ContactRepository, settings: ContactSettingsSource, auditor: Auditor
    ) -> None:
        self._contacts = contacts
        self._settings = settings
        self._auditor = auditor

    async def execute(self, principal: Principal, given: NewContact) -> Contact:
        require_permission(principal, Permission.CONTACTS_WRITE)
        if given.source not in (ContactSource.MANUAL, ContactSource.API):
            raise InvalidInput("A contact created here comes from manual or api.",
                               [FieldProblem(("body", "source"), "manual or api")])  # fmt: skip
        if given.phone is None and given.email is None:
            raise InvalidInput(NEEDS_ADDRESS, [FieldProblem(("body", "phone"), NEEDS_ADDRESS)])
        phone = None
        if given.phone is not None:
            phone = parsed_phone(given.phone, (await self._settings.current()).default_country)
            await check_phone_free(self._contacts, phone)
        now = stored_now()
        contact = Contact(
            name=given.name, phone=phone, email=given.email,
            language=checked_language(given.language, ("body", "language")),
            attributes=checked_attributes(given.attributes, ("body", "attributes")),
            tags=normalised_tags(given.tags, ("body", "tags")),
            source=given.source, created_at=now, updated_at=now,
        )  # fmt: skip
        try:
            created = await self._contacts.create(contact)
        except Conflict:  # the number was taken meanwhile
            if phone is not None:
                await check_phone_free(self._contacts, phone)
            raise
        await self._auditor.record(
            "contact.created", "contact", created.id, actor_id=principal.user_id,
            changes=audit_extra(principal, _audited(created)),
        )  # fmt: skip
        return created


class GetContact:
    def __init__(self, contacts: ContactRepository) -> None:
        self._contacts = contacts

    async def execute(self, principal: Principal, contact_id: str) -> Contact:
        require_permission(principal, Permission.CONTACTS_READ)
        return await live_contact(self._contacts, contact_id)


class ListContacts:
    """Newest first, by cursor; `segment_id` adds a segment's filter (another tenant's
    segment is 404); `channel_type` keeps the contacts reachable on that kind of channel."""

    def __init__(self, contacts: ContactRepository, segments: SegmentRepository) -> None:
        self._contacts = contacts
        self._segments = segments

    async def execute(
        self,
        principal: Principal,
        *,
        q: str | None = None,
        tag: str | None = None,
        opted_out: bool | None = None,
        channel_type: ChannelType | None = None,
        segment_id: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> ContactPage:
        require_permission(principal, Permission.CONTACTS_READ)
        segment = None
        if segment_id is not None:
            found = await self._segments.get(segment_id)
            if found is None:
                raise NotFound(SEGMENT_NOT_FOUND)
            segment = found.filter
        tags = normalised_tags([tag], ("query", "tag")) if tag is not None else []
        query = ContactQuery(q=q or None, tag=tags[0] if tags else None, opted_out=opted_out,
                             channel_type=channel_type, segment=segment)  # fmt: skip
        return await self._contacts.search(query, cursor=cursor, limit=bounded(limit))


class UpdateContact:
    def __init__(
        self, contacts: ContactRepository, settings: ContactSettingsSource, auditor: Auditor
    ) -> None:
        self._contacts = contacts
        self._settings = settings
        self._auditor = auditor

    async def execute(
        self, principal: Principal, contact_id: str, changes: ContactChanges
    ) -> Contact:
        require_permission(principal, Permission.CONTACTS_WRITE)
        before = await live_contact(self._contacts, contact_id)
        given = changes.model_dump(exclude_unset=True)
        fields: dict[str, Any] = {}
        for name in ("name", "email"):
            if name in given:
                fields[name] = given[name]
        if "language" in given:
            fields["language"] = checked_language(given["language"], ("body", "language"))
        if "tags" in given:
            fields["tags"] = normalised_tags(given["tags"] or [], ("body", "tags"))
        if "attributes" in given:
            merged = {**before.attributes, **(given["attributes"] or {})}
            fields["attributes"] = checked_attributes(merged, ("body", "attributes"))
        if "phone" in given:
            fields.update(await self._phone(contact_id, before, given["phone"]))
        reachable = before.wa_id or before.bsuid or before.channels  # a customer who wrote
        if (
            not reachable
            and fields.get("phone", before.phone) is None
            and fields.get("email", before.email) is None
        ):
            raise InvalidInput(NEEDS_ADDRESS, [FieldProblem(("body", "phone"), NEEDS_ADDRESS)])
        try:
            after = await self._contacts.update(contact_id, fields)
        except Conflict:
            await check_phone_free(self._contacts, fields["phone"], contact_id)
            raise
        if after is None:
            raise NotFound("Contact not found.")
        changed = diff(_audited(before), _audited(after))
        if changed:
            await self._auditor.record(
                "contact.updated", "contact", contact_id, actor_id=principal.user_id,
                changes=audit_extra(principal, changed),
            )  # fmt: skip
        return after

    async def _phone(self, contact_id: str, before: Contact, raw: str | None) -> dict[str, Any]:
        """A new number (its WhatsApp id goes with the old one), or none."""
        if raw is None:
            return {"phone": None, "wa_id": None}
        phone = parsed_phone(raw, (await self._settings.current()).default_country)
        if phone == before.phone:
            return {}
        await check_phone_free(self._contacts, phone, contact_id)
        return {"phone": phone, "wa_id": None}


class DeleteContact:
    """Soft delete: the contact leaves lists, counts, segments and audiences; its history
    stays; its number and user ids are released (a new contact may take the number, and
    the customer writing again becomes a new contact). Audited: `contact.deleted`."""

    def __init__(self, contacts: ContactRepository, auditor: Auditor) -> None:
        self._contacts = contacts
        self._auditor = auditor

    async def execute(self, principal: Principal, contact_id: str) -> None:
        require_permission(principal, Permission.CONTACTS_WRITE)
        contact = await live_contact(self._contacts, contact_id)
        if not await self._contacts.soft_delete(contact_id, stored_now()):
            raise NotFound("Contact not found.")
        await self._auditor.record(
            "contact.deleted", "contact", contact_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"phone": contact.phone, "name": contact.name}),
        )  # fmt: skip


class ChangeContactConsent:
    """Opt a contact out or back in by hand (`manual`) or from an integration (`api`).
    Repeating it changes nothing (the first time and source stay)."""

    def __init__(self, contacts: ContactRepository, consent: ContactConsent) -> None:
        self._contacts = contacts
        self._consent = consent

    async def execute(
        self, principal: Principal, contact_id: str, *, opted_out: bool, source: ConsentSource
    ) -> Contact:
        require_permission(principal, Permission.CONTACTS_WRITE)
        if source not in (ConsentSource.MANUAL, ConsentSource.API):
            raise InvalidInput("The source of a change here is manual or api.",
                               [FieldProblem(("body", "source"), "manual or api")])  # fmt: skip
        await live_contact(self._contacts, contact_id)
        change = ConsentChange(opted_out=opted_out, source=source, at=stored_now())
        changed = await self._consent.change(
            contact_id, change, actor_id=principal.user_id, extra=audit_extra(principal, {})
        )
        return changed or await live_contact(self._contacts, contact_id)


class GetContactStats:
    """Live contacts: the total, how many opted out, by source and by tag (the 100 most
    used), by aggregation."""

    def __init__(self, contacts: ContactRepository) -> None:
        self._contacts = contacts

    async def execute(self, principal: Principal) -> ContactStats:
        require_permission(principal, Permission.CONTACTS_READ)
        return await self._contacts.stats()
