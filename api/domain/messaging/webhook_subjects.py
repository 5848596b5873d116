"""Whom a stored webhook delivery is about: the keys a raw delivery is found by when the
data of a person it names is erased (the right to erasure, `ContactErasure`).

A key names the tenant and the person as the provider names them, the way contacts are
found: on WhatsApp tenant-wide by their number (`wa_id`) or business-scoped user id
(BSUID); on the other providers by their user id within the channel's account
(Telegram's user id, Messenger's PSID, Instagram's IGSID). Processing a delivery records
the keys of every person its items name (who wrote, who a status or an echo is about, a
number or user id a system message changes to); erasing a contact computes the keys of
its current ids and channel identities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from api.domain.messaging.channels import Channel, ChannelType
from api.domain.messaging.contacts import ChannelUserIdentity, Contact
from api.domain.messaging.events import (
    InboundEvent,
    MarketingPreference,
    MessageEchoed,
    MessageReceived,
    StatusUpdated,
)

_NUMBER = "wa"
_BSUID = "bsuid"


def _key(tenant_id: str, *parts: str) -> str:
    return ":".join((tenant_id, *parts))


def _people(event: InboundEvent) -> list[tuple[str | None, str | None]]:
    """(phone digits, user id) of each person the event names."""
    if isinstance(event, MessageReceived):
        named = [(event.sender.phone, event.sender.user_id)]
        if event.system is not None:
            named.append((event.system.new_phone, event.system.new_user_id))
        return named
    if isinstance(event, MarketingPreference):
        return [(event.sender.phone, event.sender.user_id)]
    if isinstance(event, MessageEchoed):
        return [(event.recipient.phone, event.recipient.user_id)]
    if isinstance(event, StatusUpdated):
        return [(event.recipient_phone, event.recipient_user_id)]
    return []  # templates, account errors, unrecognized items: nobody known


def event_subjects(channel: Channel, event: InboundEvent) -> set[str]:
    """The keys of the people `event` names, in the tenant of `channel` that it went to."""
    tenant_id = channel.tenant_id
    if tenant_id is None:
        return set()
    keys: set[str] = set()
    for phone, user_id in _people(event):
        if channel.type is ChannelType.WHATSAPP:
            if phone:
                keys.add(_key(tenant_id, _NUMBER, phone.lstrip("+")))
            if user_id:
                keys.add(_key(tenant_id, _BSUID, user_id))
        elif user_id:
            identity = ChannelUserIdentity(
                channel_type=channel.type, account_id=channel.account_id, user_id=user_id
            )
            keys.add(identity_subject(tenant_id, identity))
    return keys


def contact_subjects(
    tenant_id: str,
    contact: Contact,
    identities: Iterable[ChannelUserIdentity],
    past: Mapping[str, Iterable[str]] | None = None,
) -> set[str]:
    """The keys of the person a contact of `tenant_id` is: its number (as `wa_id` and as
    `phone`), its BSUID, its channel identities, and the numbers and ids it had before
    (`past`, by field name: taken off by a deletion or a merge, or replaced by a change)."""
    former = past or {}
    numbers = [contact.wa_id, contact.phone, *former.get("wa_id", ()), *former.get("phone", ())]
    keys = {_key(tenant_id, _NUMBER, number.lstrip("+")) for number in numbers if number}
    for bsuid in (contact.bsuid, *former.get("bsuid", ())):
        if bsuid:
            keys.add(_key(tenant_id, _BSUID, bsuid))
    keys.update(identity_subject(tenant_id, identity) for identity in identities)
    return keys


def identity_subject(tenant_id: str, identity: ChannelUserIdentity) -> str:
    """The key of a customer by their user id on a provider account, in `tenant_id`."""
    return _key(tenant_id, identity.channel_type.value, identity.account_id, identity.user_id)
