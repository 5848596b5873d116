"""Contacts: the customers a tenant talks to on a channel.

A WhatsApp customer is known by their business-scoped user id (`bsuid`, always sent
since 2026) and, when they share it, their phone number (`wa_id`, digits; `phone`, the
same in E.164). A username-only customer has no phone at all. Both ids are unique per
tenant and channel; inbound messages upsert the contact by them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class ContactSource(StrEnum):
    INBOUND = "inbound"
    MANUAL = "manual"
    IMPORT = "import"
    API = "api"


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


class Contact(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    channel_id: str
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
    source: ContactSource = ContactSource.INBOUND
    last_inbound_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ContactRepository(Protocol):
    """Contacts of the current tenant."""

    async def upsert_inbound(
        self, channel_id: str, identity: ContactIdentity, at: datetime
    ) -> Contact:
        """The contact with this `bsuid` (else `wa_id`) on the channel, created when
        missing, with the name, username and ids refreshed and `last_inbound_at` = `at`.
        Atomic: concurrent calls for one customer yield one contact."""
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
        """Give the contact found by `bsuid` (else `wa_id`) a new user id or number."""
        ...

    async def get(self, contact_id: str) -> Contact | None: ...
