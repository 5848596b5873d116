"""Whom a webhook item names (`event_subjects`), parsed from Meta's real payloads, and the
keys of a contact (`contact_subjects`): the same person gets the same keys either way, in
their tenant only; items about nobody name nobody."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.fernet import Fernet

from api.domain.messaging.channels import Channel, ChannelType, MessengerSettings
from api.domain.messaging.contacts import ChannelUserIdentity, Contact
from api.domain.messaging.events import (
    MarketingPreference,
    MessageReceived,
    Sender,
    StatusUpdated,
)
from api.domain.messaging.webhook_subjects import contact_subjects, event_subjects
from api.infrastructure.security.secret_box import FernetSecretBox
from tests.support.channels import whatsapp_channel
from tests.support.inbox import events, message_event, status_event

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def whatsapp(tenant_id: str | None = "t1") -> Channel:
    box = FernetSecretBox(Fernet.generate_key().decode())
    channel = whatsapp_channel(box, "http://graph.invalid")
    return channel.model_copy(update={"tenant_id": tenant_id})


def messenger() -> Channel:
    return Channel(
        id="m1", tenant_id="t1", type=ChannelType.MESSENGER, name="Page",
        settings=MessengerSettings(page_id="PAGE", api_version="v26.0",
                                   graph_base_url="http://graph.invalid"),
        verify_token="verify", messages_per_second=10, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def contact(**fields: object) -> Contact:
    return Contact.model_validate({"id": "c1", "created_at": NOW, "updated_at": NOW, **fields})


def test_a_whatsapp_message_names_its_sender_by_number_and_user_id() -> None:
    event = message_event("text")
    phone, user_id = event.sender.phone, event.sender.user_id
    assert phone
    keys = event_subjects(whatsapp(), event)
    assert f"t1:wa:{phone}" in keys
    assert keys == {f"t1:wa:{phone}"} | ({f"t1:bsuid:{user_id}"} if user_id else set())
    # The contact the message made has the same keys, whether its number is read as
    # `wa_id` or as the E.164 `phone`.
    made = contact(wa_id=phone, phone=f"+{phone}", bsuid=user_id)
    assert contact_subjects("t1", made, []) == keys
    assert contact_subjects("t1", contact(phone=f"+{phone}"), []) == {f"t1:wa:{phone}"}
    assert contact_subjects("t2", made, []).isdisjoint(keys)  # another tenant's person
    # A deleted (or merged) contact's number and ids were taken off it and kept aside; a
    # changed number was replaced: the past ones name the person too.
    past = {"wa_id": [phone], "phone": [f"+{phone}"]} | ({"bsuid": [user_id]} if user_id else {})
    assert contact_subjects("t1", contact(), [], past) == keys
    now = contact(wa_id="16505559999", phone="+16505559999")
    assert contact_subjects("t1", now, [], {"wa_id": [phone]}) == {
        "t1:wa:16505559999",
        f"t1:wa:{phone}",
    }


def test_a_number_change_names_the_old_and_the_new_number() -> None:
    [event] = [e for e in events("system_user_changed_number") if isinstance(e, MessageReceived)]
    assert event.system is not None and event.system.new_phone and event.sender.phone
    keys = event_subjects(whatsapp(), event)
    assert {f"t1:wa:{event.sender.phone}", f"t1:wa:{event.system.new_phone}"} <= keys


def test_a_status_names_the_person_the_message_went_to() -> None:
    status = status_event("delivered")
    assert isinstance(status, StatusUpdated) and status.recipient_phone
    assert f"t1:wa:{status.recipient_phone}" in event_subjects(whatsapp(), status)


def test_items_about_nobody_and_channels_without_a_tenant_name_nobody() -> None:
    template = events("template_status")
    assert template and all(event_subjects(whatsapp(), e) == set() for e in template)
    assert event_subjects(whatsapp(tenant_id=None), message_event("text")) == set()


def test_other_providers_name_the_user_id_within_the_channels_account() -> None:
    sender = Sender(user_id="PSID-1", name="Ana")
    message = message_event("text").model_copy(update={"sender": sender})
    preference = MarketingPreference(key="k", account_id="PAGE", sender=sender, value="stop")
    keys = event_subjects(messenger(), message)
    assert keys == {"t1:messenger:PAGE:PSID-1"} == event_subjects(messenger(), preference)
    identity = ChannelUserIdentity(
        channel_type=ChannelType.MESSENGER, account_id="PAGE", user_id="PSID-1"
    )
    assert contact_subjects("t1", contact(), [identity]) == keys
    # A phone a Messenger sender might carry is not a WhatsApp number of the tenant.
    with_phone = message.model_copy(update={"sender": Sender(user_id="PSID-1", phone="1650")})
    assert event_subjects(messenger(), with_phone) == keys
