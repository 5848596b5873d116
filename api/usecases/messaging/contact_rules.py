"""The rules every contact write follows, and consent (opt-out, opt-in) from any source.

- Phone: parsed with `phonenumbers` to E.164; a national number is read in the tenant's
  `default_country` (company profile); an invalid one is 422 `invalid_phone`. Unique per
  tenant among live contacts: 409 `duplicate_contact` with `existing_id`.
- Tags: trimmed, single-spaced, lower case, 1-50 characters, at most 50, no repeats.
- Attributes: at most 50, keys `[A-Za-z_][A-Za-z0-9_]{0,63}`, values a string (at most
  500 characters), a number or a boolean; null removes a key in a change.
- Language: a tag such as `en`, `pt_BR` or `pt-BR`.
- Consent: a change that does not change anything (already opted out) keeps the first
  time and source and records nothing; one that does is audited (`contact.opted_out`,
  `contact.opted_in`, with the source; no actor for keywords and provider signals).
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from api.common.locales import e164, keyword
from api.domain.errors import FieldProblem, InvalidInput, NotFound, TemporaryFailure
from api.domain.messaging.contact_merge import ContactMerged
from api.domain.messaging.contacts import (
    ChannelUserIdentity,
    ConsentChange,
    ConsentSource,
    Contact,
    ContactIdentityRepository,
    ContactRepository,
    ContactSettingsSource,
)
from api.domain.messaging.errors import DuplicateContact, InvalidPhone
from api.usecases.kernel.auditor import Auditor

CONTACT_NOT_FOUND = "Contact not found."
MAX_TAGS = 50
MAX_TAG_LENGTH = 50
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_TEXT = 500
MAX_KEYWORD_LENGTH = 30
OPT_OUT_WORDS = frozenset({"stop"})
OPT_IN_WORDS = frozenset({"start"})
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$")
Scalar = str | int | float | bool


async def identified_contact(
    identities: ContactIdentityRepository,
    key: ChannelUserIdentity,
    upsert: Callable[[str], Awaitable[Contact | None]],
) -> Contact:
    """The live contact a provider user id names (Telegram, Messenger, Instagram): its id
    allocated by the identity store, the contact made or refreshed by `upsert` (None when
    that contact was deleted: the customer starts afresh with a new contact)."""
    contact_id = await identities.contact_id_for(key)
    for _ in range(2):
        contact = await upsert(contact_id)
        if contact is not None:
            return contact
        contact_id = await identities.reassign(key, contact_id)  # it was deleted
    raise TemporaryFailure("The customer's contact is being changed; retry.")


async def live_contact(contacts: ContactRepository, contact_id: str) -> Contact:
    """The tenant's contact, not deleted; `NotFound` otherwise (or another tenant's), and
    `ContactMerged` (a 404 naming where it went) for one merged into another."""
    found = await contacts.get(contact_id)
    if found is not None and found.merged_into is not None:
        raise ContactMerged(found.merged_into)
    if found is None or found.deleted_at is not None:
        raise NotFound(CONTACT_NOT_FOUND)
    return found


def normalised_tags(tags: list[str], loc: tuple[str | int, ...]) -> list[str]:
    kept: list[str] = []
    problems: list[FieldProblem] = []
    for index, raw in enumerate(tags):
        tag = " ".join(raw.split()).lower()
        if not 1 <= len(tag) <= MAX_TAG_LENGTH or not tag.isprintable():
            problems.append(FieldProblem((*loc, index), f"1 to {MAX_TAG_LENGTH} characters"))
        elif tag not in kept:
            kept.append(tag)
    if len(kept) > MAX_TAGS:
        problems.append(FieldProblem(loc, f"at most {MAX_TAGS} tags"))
    if problems:
        raise InvalidInput("The tags are not valid.", problems)
    return kept


def checked_attributes(
    attributes: dict[str, Any], loc: tuple[str | int, ...], *, limit: int = MAX_ATTRIBUTES
) -> dict[str, Scalar]:
    """The attributes without null values, or `InvalidInput` naming each bad one."""
    problems: list[FieldProblem] = []
    kept: dict[str, Scalar] = {}
    for key, value in attributes.items():
        if not ATTRIBUTE_KEY.match(key):
            problems.append(FieldProblem((*loc, key), "a key is a letter or _ then up to 63 "
                                                      "letters, digits or _"))  # fmt: skip
        elif isinstance(value, str) and len(value) > MAX_ATTRIBUTE_TEXT:
            problems.append(FieldProblem((*loc, key), f"at most {MAX_ATTRIBUTE_TEXT} characters"))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(FieldProblem((*loc, key), "a finite number"))
        elif value is not None and not isinstance(value, Scalar):
            problems.append(FieldProblem((*loc, key), "a string, a number or a boolean"))
        elif value is not None:
            kept[key] = value
    if len(kept) > limit:
        problems.append(FieldProblem(loc, f"at most {limit} attributes"))
    if problems:
        raise InvalidInput("The attributes are not valid.", problems)
    return kept


def checked_language(language: str | None, loc: tuple[str | int, ...]) -> str | None:
    if language is not None and not LANGUAGE.match(language):
        raise InvalidInput(
            "The language is not valid.", [FieldProblem(loc, "a language tag such as en, pt_BR")]
        )
    return language


def parsed_phone(raw: str, country: str | None) -> str:
    number = e164(raw, country)
    if number is None:
        raise InvalidPhone()
    return number


async def check_phone_free(
    contacts: ContactRepository, phone: str, contact_id: str | None = None
) -> None:
    holder = await contacts.by_phone(phone)
    if holder is not None and holder.id != contact_id:
        raise DuplicateContact(holder.id or "")


MARKETING_OPTED_OUT = 131050  # WhatsApp: the customer stopped marketing messages


class ContactConsent:
    """Opt a contact out or in, from any source, audited when it changed; and the
    keywords a customer's text may be (STOP, START, the tenant's own words)."""

    def __init__(
        self, contacts: ContactRepository, settings: ContactSettingsSource, auditor: Auditor
    ) -> None:
        self._contacts = contacts
        self._settings = settings
        self._auditor = auditor

    async def change(
        self,
        contact_id: str,
        change: ConsentChange,
        *,
        actor_id: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> Contact | None:
        """The contact when it changed; None when it already was so (or is gone)."""
        changed = await self._contacts.change_consent(contact_id, change)
        if changed is not None:
            action = "contact.opted_out" if change.opted_out else "contact.opted_in"
            await self._auditor.record(
                action, "contact", contact_id, actor_id=actor_id,
                changes={"source": change.source.value, **(extra or {})},
            )  # fmt: skip
        return changed

    async def marketing_refused(self, contact_id: str | None, at: datetime) -> None:
        """The provider refused a marketing message because the customer stopped them
        (WhatsApp 131050, in a send's answer or a failed status): opt the contact out,
        source `provider`, so no later campaign tries again."""
        if contact_id is not None:
            change = ConsentChange(opted_out=True, source=ConsentSource.PROVIDER, at=at)
            await self.change(contact_id, change, extra={"error_code": MARKETING_OPTED_OUT})

    async def on_inbound_text(self, contact: Contact, text: str, at: datetime) -> None:
        """A text that is exactly an opt-out (or opt-in) keyword changes the consent."""
        word = keyword(text)
        if not word or len(word) > MAX_KEYWORD_LENGTH or contact.id is None:
            return
        settings = await self._settings.current()
        if word in OPT_OUT_WORDS or word in settings.opt_out_keywords:
            opted_out = True
        elif word in OPT_IN_WORDS or word in settings.opt_in_keywords:
            opted_out = False
        else:
            return
        if contact.opted_out != opted_out:
            await self.change(
                contact.id, ConsentChange(opted_out=opted_out, source=ConsentSource.KEYWORD,
                                          at=at), extra={"keyword": word},
            )  # fmt: skip
