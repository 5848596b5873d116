"""Contacts: the customers a tenant talks to on a channel.

A WhatsApp customer is known by their business-scoped user id (`bsuid`, always sent
since 2026) and, when they share it, their phone number (`wa_id`, digits; `phone`, the
same in E.164). A username-only customer has no phone at all. Both ids are unique per
tenant and channel; inbound messages upsert the contact by them, or find the one with
that phone number (created by hand, imported, or first met on another channel).

A phone number is unique per tenant (among contacts not deleted). A contact created by
hand, imported or through the API has no channel (`channel_id` null) until the customer
writes. Deleting is soft: the contact keeps its history but leaves lists and counts, and
its phone number and user ids are released (kept aside in `deleted_identity`) so the
number can be a new contact and the customer writing again starts afresh.

Other providers (Telegram, Messenger, Instagram) know a customer only by their user id
there (Telegram's user id, Messenger's page-scoped PSID, Instagram's IGSID), which is
unique per provider account: a `ChannelUserIdentity` (channel type, account, user id)
names one contact of the tenant (`ContactIdentityRepository`), allocated atomically the
first time the customer writes. A contact may hold several such identities (a merge moves
them); WhatsApp's own `bsuid`/`wa_id` stay on the contact.

Consent: `opted_out` with the time and source of the opt-out (`manual` by a user,
`api`, `keyword` when the customer wrote STOP or one of the tenant's words, `provider`
when the provider said they stopped marketing messages, `import`); opting in again keeps
its own time and source (`opted_in_at`, `opt_in_source`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.messaging.channels import ChannelType


class ContactSource(StrEnum):
    INBOUND = "inbound"
    MANUAL = "manual"
    IMPORT = "import"
    API = "api"


class ConsentSource(StrEnum):
    MANUAL = "manual"
    API = "api"
    KEYWORD = "keyword"
    PROVIDER = "provider"
    IMPORT = "import"


class ContactIdentity(BaseModel):
    """Who wrote, as an inbound message says (at least one of `bsuid`, `wa_id`)."""

    model_config = ConfigDict(frozen=True)

    bsuid: str | None = None
    wa_id: str | None = None  # digits, no '+'
    username: str | None = None
    name: str | None = None

    @property
    def phone(self) -> str | None:
        """The number in E.164 (WhatsApp's wa_id is the number without its '+')."""
        return f"+{self.wa_id}" if self.wa_id else None


class ContactChannel(BaseModel):
    """A channel the customer wrote on (kept from their inbound messages and merges)."""

    model_config = ConfigDict(frozen=True)

    channel_id: str
    channel_type: ChannelType


class Contact(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    channel_id: str | None = None  # the channel the customer wrote on; None: never wrote
    name: str | None = None
    phone: str | None = None  # E.164
    wa_id: str | None = None
    bsuid: str | None = None
    username: str | None = None
    email: str | None = None
    language: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    opted_out: bool = False
    opted_out_at: datetime | None = None
    opt_out_source: str | None = None
    opted_in_at: datetime | None = None
    opt_in_source: str | None = None
    source: ContactSource = ContactSource.INBOUND
    last_inbound_at: datetime | None = None
    channels: list[ContactChannel] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    merged_into: str | None = None  # deleted by a merge into this contact
    merging_into: str | None = None  # a merge into this contact began (and may resume)
    erased_at: datetime | None = None  # its personal data erased (it is deleted too)

    @property
    def channel_types(self) -> list[ChannelType]:
        """The kinds of channel the customer is reachable on, each once, in order."""
        return list(dict.fromkeys(c.channel_type for c in self.channels))


class SegmentFilter(BaseModel):
    """Which contacts a segment (or a list query) holds; every condition given must hold.
    `attributes` match by equality; `opted_out` false (the default) leaves out opted-out
    contacts, null takes both. Deleted contacts are never in."""

    model_config = ConfigDict(frozen=True)

    tags_any: list[str] = Field(default_factory=list)
    tags_all: list[str] = Field(default_factory=list)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    language: str | None = None
    opted_out: bool | None = False
    created_after: datetime | None = None
    last_inbound_after: datetime | None = None


class ContactQuery(BaseModel):
    """A list query: `q` (in name, phone or email), one tag, opted out or not, reachable
    on a kind of channel (`channel_type`), and a segment's filter; all must hold."""

    model_config = ConfigDict(frozen=True)

    q: str | None = None
    tag: str | None = None
    opted_out: bool | None = None
    channel_type: ChannelType | None = None
    segment: SegmentFilter | None = None


class ContactPage(BaseModel):
    items: list[Contact]
    next_cursor: str | None = None


class ContactStats(BaseModel):
    total: int
    opted_out: int
    by_source: dict[str, int]
    by_tag: dict[str, int]  # the most used tags first (at most 100)


class ConsentChange(BaseModel):
    """Opt a contact out (`opted_out`) or back in, from `source`, at `at`."""

    model_config = ConfigDict(frozen=True)

    opted_out: bool
    source: ConsentSource
    at: datetime


class ConsentState(BaseModel):
    """Whether a contact may still be messaged: opted out or deleted (read in bulk by the
    campaign sender right before it sends)."""

    model_config = ConfigDict(frozen=True)

    opted_out: bool
    deleted: bool


class ContactSettings(BaseModel):
    """The tenant's defaults contacts follow: the country national numbers are read in,
    and its own consent keywords (folded: trimmed, single spaces, case folded)."""

    model_config = ConfigDict(frozen=True)

    default_country: str | None = None
    opt_out_keywords: frozenset[str] = frozenset()
    opt_in_keywords: frozenset[str] = frozenset()


class ContactSettingsSource(Protocol):
    async def current(self) -> ContactSettings:
        """The current tenant's settings."""
        ...


class ChannelUserIdentity(BaseModel):
    """A customer as a provider names them: its user id within one provider account (the
    bot, the Page, the Instagram account) of a channel type."""

    model_config = ConfigDict(frozen=True)

    channel_type: ChannelType
    account_id: str
    user_id: str
    username: str | None = None


class ContactIdentityRepository(Protocol):
    """Which contact each provider user id is, in the current tenant (one contact per
    (channel type, account, user id); unique, so concurrent first messages agree)."""

    async def contact_id_for(self, identity: ChannelUserIdentity) -> str:
        """The contact id of this customer; a new id (for a contact still to be created)
        allocated atomically when the identity is new. The username is refreshed."""
        ...

    async def contact_id_of(self, identity: ChannelUserIdentity) -> str | None:
        """The contact id this customer has, when the identity is known (nothing is
        allocated)."""
        ...

    async def reassign(self, identity: ChannelUserIdentity, stale_contact_id: str) -> str:
        """A new contact id for the identity while it still names `stale_contact_id` (a
        deleted contact: the customer writing again starts afresh); else the current one."""
        ...

    async def move(self, from_contact_id: str, to_contact_id: str) -> int:
        """Give every identity of one contact to another (a merge); how many moved."""
        ...

    async def forget_contact(self, contact_id: str) -> int:
        """Delete every identity of a contact (its data was erased); how many."""
        ...

    async def of_contact(self, contact_id: str) -> list[ChannelUserIdentity]:
        """The identities of a contact."""
        ...

    async def user_id_on(
        self, contact_id: str, channel_type: ChannelType, account_id: str
    ) -> str | None:
        """The contact's user id on this provider account (where a send goes), if any."""
        ...

    async def user_ids_on(
        self, contact_ids: list[str], channel_type: ChannelType, account_id: str
    ) -> dict[str, str]:
        """The user ids of these contacts on this provider account, by contact id (those
        with none are left out); one read."""
        ...


class ContactRepository(Protocol):
    """Contacts of the current tenant."""

    async def upsert_inbound_by_id(
        self,
        contact_id: str,
        channel_id: str,
        identity: ContactIdentity,
        at: datetime,
        *,
        channel_type: ChannelType | None = None,
    ) -> Contact | None:
        """The live contact with this id (allocated by `ContactIdentityRepository`),
        created when missing, with the name and username refreshed and `last_inbound_at`
        = `at` (and, with `channel_type`, the channel in its `channels`); None when that
        contact was deleted. Atomic."""
        ...

    async def ensure_by_id(
        self,
        contact_id: str,
        channel_id: str,
        *,
        source: ContactSource = ContactSource.API,
    ) -> Contact | None:
        """The live contact with this id (allocated by `ContactIdentityRepository`),
        created on the channel (from `source`) when missing; nothing of an existing contact
        changes. None when that contact was deleted. Atomic."""
        ...

    async def upsert_inbound(
        self,
        channel_id: str,
        identity: ContactIdentity,
        at: datetime,
        *,
        channel_type: ChannelType | None = None,
    ) -> Contact:
        """The contact with this `bsuid` (else `wa_id`) on the channel, created when
        missing, with the name, username and ids refreshed and `last_inbound_at` = `at`;
        with `channel_type`, the channel joins its `channels` (once). Atomic: concurrent
        calls for one customer yield one contact."""
        ...

    async def change_identity(
        self,
        channel_id: str,
        *,
        bsuid: str | None,
        wa_id: str | None,
        new_bsuid: str | None = None,
        new_wa_id: str | None = None,
    ) -> Contact | None:
        """Give the contact found by `bsuid` (else `wa_id`) a new user id or number; the
        ones replaced are kept as the contact's former ids (`past_identity`)."""
        ...

    async def get(self, contact_id: str) -> Contact | None:
        """The contact with this id, deleted or not."""
        ...

    async def find(self, channel_id: str | None, identity: ContactIdentity) -> Contact | None:
        """The live contact this customer is: by `bsuid` on the channel (any channel when
        None), else by phone number (`wa_id`) in the whole tenant. The one way every path
        (inbound, sending, provider signals) finds a customer."""
        ...

    async def ensure(
        self, channel_id: str, identity: ContactIdentity, *, source: ContactSource = ...
    ) -> Contact:
        """The contact `find` gives, else one created on the channel (from `source`, `api`
        by default) with this `bsuid` or number; nothing of an existing contact changes.
        Atomic."""
        ...

    async def by_phone(self, phone: str) -> Contact | None:
        """The live contact with this E.164 number."""
        ...

    async def create(self, contact: Contact) -> Contact:
        """Store a new contact; `Conflict` when its phone number is taken."""
        ...

    async def update(self, contact_id: str, changes: dict[str, Any]) -> Contact | None:
        """Set `changes` on the live contact; None when absent or deleted; `Conflict` when
        a new phone number is taken."""
        ...

    async def soft_delete(self, contact_id: str, at: datetime) -> bool:
        """Delete the live contact (its number and ids released); False when absent."""
        ...

    async def erase(self, contact_id: str, at: datetime) -> bool:
        """Erase what the contact says about the person (name, ids, number, username,
        email, language, attributes, tags) and delete it, live or deleted; True when it was
        erased now (False: absent, or erased before)."""
        ...

    async def change_consent(self, contact_id: str, change: ConsentChange) -> Contact | None:
        """Opt the live contact out or in, when it is not so already (the first time and
        source are kept); the contact when it changed, else None."""
        ...

    async def search(self, query: ContactQuery, *, cursor: str | None, limit: int) -> ContactPage:
        """Live contacts matching `query`, newest first, by cursor (`InvalidInput` for a
        cursor this list did not give)."""
        ...

    async def count(self, query: ContactQuery) -> int: ...

    async def attribute_keys(self, query: ContactQuery) -> list[str]:
        """Every attribute key the live contacts matching `query` use, sorted."""
        ...

    def batches(self, query: ContactQuery, *, size: int) -> AsyncIterator[list[Contact]]:
        """The live contacts matching `query`, at most `size` at a time (memory bounded
        whatever the count), each at most once, in id order."""

    async def consent_states(self, contact_ids: list[str]) -> dict[str, ConsentState]:
        """The consent state of each of these contacts (deleted or not), in one read; an
        id that is no contact of the tenant is absent."""
        ...

    async def stats(self) -> ContactStats: ...

    async def same_address(self, contact: Contact, *, limit: int) -> list[Contact]:
        """Other live contacts with this contact's phone number (E.164, or its WhatsApp
        id) or email address (any case): the merge candidates, newest first."""
        ...

    # A merge (`api.usecases.messaging.merge_contacts`), in the order it writes.

    async def claim_merge(
        self, contact_id: str, *, token: str, until: datetime, into: str | None
    ) -> bool:
        """Hold the live contact for a merge until `until` (unless another merge holds it
        and its hold has not run out). With `into` (the source's hold) a contact merging
        into another is refused; without (the target's), one merging into any is."""
        ...

    async def mark_merging(self, contact_id: str, into: str, token: str) -> bool:
        """Mark the contact `token` holds as `merging_into` `into`, for good (until the
        merge is done): it can then be merged nowhere else."""
        ...

    async def release_merge(self, contact_id: str, token: str) -> None:
        """Give up the hold `token` has (nothing when it has none)."""
        ...

    async def past_identity(self, contact_id: str) -> dict[str, list[str]]:
        """Every phone number, `wa_id` and `bsuid` the contact had and no longer has, by
        field: taken off by a deletion or a merge (kept aside), or replaced by a number or
        user id change. Reads only."""
        ...

    async def merged_sources(self, contact_id: str) -> list[str]:
        """The ids of the contacts merged into this one (`merged_into` naming it)."""
        ...

    async def release_identity(self, contact_id: str) -> dict[str, str]:
        """Take the phone number and WhatsApp ids off the live contact (kept aside, as a
        deletion does, so a re-run finds them); every id released so far."""
        ...

    async def add_channels(self, contact_id: str, channels: list[ContactChannel]) -> None:
        """Each channel joins the contact's `channels` once."""
        ...

    async def finish_merge(self, contact_id: str, into: str, at: datetime) -> bool:
        """Delete the live contact as merged into `into` (its hold released); False when it
        is not live any more."""
        ...
