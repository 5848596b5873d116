"""Merging two contacts that are one customer (`POST /contacts/{id}/merge`), and the
candidates for it (`GET /contacts/{id}/merge-candidates`): `contacts:write` and
`contacts:read`.

Everything of the source moves to the target (the contact in the path): its channel
identities (Telegram, Messenger, Instagram user ids), conversations and their messages,
leads, tickets, meetings and callback requests; its tags (added) and attributes (the
target's value wins a conflict); its phone number, WhatsApp ids, username, email address,
name and language where the target has none (the target's value wins a conflict; every
kept value is reported in `kept_from_target`); its channels (with the one either last
wrote on, for contacts from before channels were kept); and its opt-out (the target is
opted out if either was: consent is never weakened). The source is then deleted with
`merged_into` naming the target, and reading it is 404 `contact_merged` with
`merged_into`. Imports and exports already made are not touched; campaign runs keep the
recipients they snapshotted.

The order of writes makes a stopped merge resumable by running it again:

1. both contacts are held for the merge (`claim_merge`, a hold of `MERGE_HOLD`, the lower
   id first so that of concurrent merges of one pair, in either direction, one holds
   both), then the source is marked `merging_into` the target for good (it cannot be
   merged elsewhere until this merge is done). A second merge of either while held is
   409 `merge_in_progress`; after the source is deleted, merging it again is 409
   `already_merged`;
2. the source's phone number and WhatsApp ids are taken off it (kept aside, as a deletion
   does) and its channel identities (Telegram, Messenger, Instagram user ids:
   `ContactIdentityRepository.move`) become the target's; the WhatsApp ids go to the
   target where it has none: from then on the customer's messages find the target;
3. the target's fields, tags, attributes, consent and channels;
4. the records, each by an idempotent update keyed by the source's id;
5. the source is deleted as merged, and the holds are released.

A run that fails is released at once (and can be retried at once); a process that dies
leaves holds that run out after `MERGE_HOLD`. Every step recomputes from what is stored,
so running it again completes what is missing and changes nothing else.

A department-limited user may merge only when every department-routed record of the
source (conversations, leads, tickets, meetings, callback requests) is in their
departments: else 403 `merge_outside_departments` and nothing moves. (The target's records
do not move, so they are not checked.)

Audited as `contact.merged` (on the target: the source, what moved, what the target kept);
every moved conversation is pushed to agents as `conversation.updated`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from api.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelRepository
from api.domain.messaging.contact_merge import (
    AlreadyMerged,
    ContactMerged,
    ContactRecords,
    MergeInProgress,
    MergeOutsideDepartments,
    MovedRecords,
)
from api.domain.messaging.contacts import (
    Contact,
    ContactChannel,
    ContactIdentityRepository,
    ContactRepository,
)
from api.domain.messaging.conversations import ContactSummary, ConversationRepository
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.contact_rules import (
    CONTACT_NOT_FOUND,
    MAX_ATTRIBUTES,
    MAX_TAGS,
    live_contact,
)

MERGE_HOLD = timedelta(minutes=2)
MAX_CANDIDATES = 20
_WHERE_NONE = ("username", "email", "name", "language")
_IDENTITY = ("phone", "wa_id", "bsuid", "channel_id")


class MergeResult(BaseModel):
    contact: Contact
    source_contact_id: str
    moved: MovedRecords
    identities: list[str] = Field(default_factory=list)  # what the target gained
    kept_from_target: list[str] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)  # over the tag and attribute limits


class MergeCandidate(BaseModel):
    contact: Contact
    matched_on: list[str]  # "phone", "email"


def _absorbed(
    target: Contact, source: Contact, released: dict[str, str]
) -> tuple[dict[str, Any], MergeResult]:
    """The target's changes (target wins) and the report of them."""
    report = MergeResult(contact=target, source_contact_id=source.id or "",
                         moved=MovedRecords())  # fmt: skip
    changes: dict[str, Any] = {}

    def take(name: str, value: object, mine: object) -> None:
        if value is None or value == mine:
            return
        if mine is None:
            changes[name] = value
            report.identities.append(name)
        else:
            report.kept_from_target.append(name)

    phone, wa_id, bsuid = (released.get(k) for k in ("phone", "wa_id", "bsuid"))
    take("phone", phone, target.phone)
    if "phone" in changes or target.phone == phone:
        take("wa_id", wa_id, target.wa_id)
    if bsuid and target.bsuid is None and target.channel_id in (None, source.channel_id):
        changes.update(bsuid=bsuid, channel_id=source.channel_id)
        report.identities.append("bsuid")
    elif bsuid and target.bsuid is None:  # per channel: the target wrote on another
        report.dropped.append("bsuid")
    elif bsuid and bsuid != target.bsuid:
        report.kept_from_target.append("bsuid")
    for name in _WHERE_NONE:
        take(name, getattr(source, name), getattr(target, name))
    report.identities = [n for n in report.identities if n not in ("name", "language")]

    tags = list(target.tags) + [t for t in source.tags if t not in target.tags]
    if tags != target.tags:
        changes["tags"] = tags[:MAX_TAGS]
        report.dropped += [f"tags.{t}" for t in tags[MAX_TAGS:]]
    attributes = dict(target.attributes)
    for key, value in source.attributes.items():
        if key in attributes:
            if attributes[key] != value:
                report.kept_from_target.append(f"attributes.{key}")
        elif len(attributes) < MAX_ATTRIBUTES:
            attributes[key] = value
        else:
            report.dropped.append(f"attributes.{key}")
    if attributes != target.attributes:
        changes["attributes"] = attributes

    if source.opted_out and not target.opted_out:  # never weaken consent
        changes.update(opted_out=True, opted_out_at=source.opted_out_at,
                       opt_out_source=source.opt_out_source)  # fmt: skip
    if source.last_inbound_at and (
        target.last_inbound_at is None or source.last_inbound_at > target.last_inbound_at
    ):
        changes["last_inbound_at"] = source.last_inbound_at
    return {k: v for k, v in changes.items() if v is not None}, report


class MergeContacts:
    def __init__(
        self,
        contacts: ContactRepository,
        identities: ContactIdentityRepository,
        records: ContactRecords,
        conversations: ConversationRepository,
        channels: ChannelRepository,
        auditor: Auditor,
        events: InboxEvents,
    ) -> None:
        self._contacts = contacts
        self._identities = identities
        self._channels = channels
        self._records = records
        self._conversations = conversations
        self._auditor = auditor
        self._events = events

    async def execute(self, principal: Principal, target_id: str, source_id: str) -> MergeResult:
        require_permission(principal, Permission.CONTACTS_WRITE)
        if source_id == target_id:
            raise InvalidInput("A contact cannot be merged into itself.",
                               [FieldProblem(("body", "source_contact_id"),
                                             "the contact itself")])  # fmt: skip
        target = await live_contact(self._contacts, target_id)
        assert target.id is not None  # noqa: S101 - stored
        source = await self._source(source_id, target.id)
        assert source.id is not None  # noqa: S101 - stored
        if await self._records.outside_scope(source.id):
            raise MergeOutsideDepartments(
                "Some of the source contact's records are outside your departments."
            )
        token = uuid.uuid4().hex
        try:
            await self._hold(source.id, target.id, token)
            result = await self._merge(source.id, target.id, stored_now())
        finally:
            await self._contacts.release_merge(target.id, token)
            await self._contacts.release_merge(source.id, token)  # none once merged
        await self._auditor.record(
            "contact.merged", "contact", target.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {
                "source_contact_id": source.id,
                "moved": {**result.moved.model_dump(exclude={"conversations", "resolved"}),
                          "conversations": len(result.moved.conversations),
                          "resolved_conversations": result.moved.resolved},
                "identities": result.identities, "kept_from_target": result.kept_from_target,
                "dropped": result.dropped,
            }),
        )  # fmt: skip
        for conversation_id in result.moved.conversations:
            moved = await self._conversations.get(conversation_id)
            if moved is not None:
                await self._events.publish(
                    InboxEvent.of_conversation(InboxEventType.CONVERSATION_UPDATED, moved)
                )
        return result

    async def _hold(self, source_id: str, target_id: str, token: str) -> None:
        """Hold both contacts, the lower id first (so of two merges of one pair, in either
        direction, one holds both), then mark the source as merging into the target."""
        until = stored_now() + MERGE_HOLD
        roles = {source_id: target_id, target_id: None}
        for contact_id in sorted(roles):
            if not await self._contacts.claim_merge(contact_id, token=token, until=until,
                                                    into=roles[contact_id]):  # fmt: skip
                await self._source(source_id, target_id)  # merged meanwhile: already_merged
                raise MergeInProgress("Another merge holds one of the contacts; retry later.")
        await self._contacts.mark_merging(source_id, target_id, token)

    async def _source(self, source_id: str, target_id: str) -> Contact:
        """The live source, or why not: 404 (absent, deleted, another tenant's), 409
        `already_merged` (into this target), 404 `contact_merged` (into another), 409
        `merge_in_progress` (merging into another)."""
        source = await self._contacts.get(source_id)
        if source is None:
            raise NotFound(CONTACT_NOT_FOUND)
        if source.merged_into == target_id:
            raise AlreadyMerged(target_id)
        if source.merged_into is not None:
            raise ContactMerged(source.merged_into)
        if source.deleted_at is not None:
            raise NotFound(CONTACT_NOT_FOUND)
        if source.merging_into not in (None, target_id):
            raise MergeInProgress("The source contact is being merged into another contact.")
        return source

    async def _merge(self, source_id: str, target_id: str, at: datetime) -> MergeResult:
        source = await self._contacts.get(source_id)
        target = await self._contacts.get(target_id)
        if source is None or target is None:
            raise NotFound(CONTACT_NOT_FOUND)
        released = await self._contacts.release_identity(source_id)
        moved_identities = await self._identities.move(source_id, target_id)
        changes, report = _absorbed(target, source, released)
        if changes:
            try:
                await self._contacts.update(target_id, changes)
            except Conflict:  # a number taken meanwhile by a third contact: not moved
                given = [name for name in _IDENTITY if name in changes]
                report.identities = [n for n in report.identities if n not in given]
                report.dropped += given
                await self._contacts.update(
                    target_id, {k: v for k, v in changes.items() if k not in _IDENTITY}
                )
        await self._contacts.add_channels(
            target_id, await self._known_channels(target) + await self._known_channels(source)
        )
        merged = await self._contacts.get(target_id) or target
        assert merged.id is not None  # noqa: S101 - stored
        summary = ContactSummary(id=merged.id, name=merged.name, phone=merged.phone,
                                 wa_id=merged.wa_id, bsuid=merged.bsuid)  # fmt: skip
        report.moved = await self._records.move(source_id, summary)
        report.moved.channel_identities = moved_identities
        if not await self._contacts.finish_merge(source_id, target_id, at):
            raise Conflict("The source contact changed during the merge; run it again.")
        report.contact = await self._contacts.get(target_id) or merged
        return report

    async def _known_channels(self, contact: Contact) -> list[ContactChannel]:
        """The contact's channels, with the one it last wrote on when missing (a contact
        from before channels were kept)."""
        known = list(contact.channels)
        if contact.channel_id and all(c.channel_id != contact.channel_id for c in known):
            channel = await self._channels.get(contact.channel_id)
            if channel is not None and channel.id is not None:
                known.append(ContactChannel(channel_id=channel.id, channel_type=channel.type))
        return known


class ListMergeCandidates:
    """Other live contacts of the tenant with this contact's phone number (E.164, or as a
    WhatsApp id) or email address (any case), newest first, at most 20."""

    def __init__(self, contacts: ContactRepository) -> None:
        self._contacts = contacts

    async def execute(self, principal: Principal, contact_id: str) -> list[MergeCandidate]:
        require_permission(principal, Permission.CONTACTS_READ)
        contact = await live_contact(self._contacts, contact_id)
        found = await self._contacts.same_address(contact, limit=MAX_CANDIDATES)
        digits = contact.phone[1:] if contact.phone else None
        email = contact.email.casefold() if contact.email else None
        candidates = []
        for other in found:
            matched = []
            if contact.phone and (other.phone == contact.phone or other.wa_id == digits):
                matched.append("phone")
            if email and other.email and other.email.casefold() == email:
                matched.append("email")
            candidates.append(MergeCandidate(contact=other, matched_on=matched))
        return candidates
