"""The WhatsApp adapter reads every webhook item Meta documents into Parley's events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.domain.messaging.events import (
    ChannelErrors,
    DeliveryState,
    InboundEvent,
    MarketingPreference,
    MessageKind,
    MessageReceived,
    StatusUpdated,
    TemplateChange,
    TemplateUpdated,
    Unrecognized,
)
from api.infrastructure.channels.whatsapp.webhook import parse_webhook

FIXTURES = Path(__file__).parents[2] / "fixtures" / "whatsapp"
PHONE_NUMBER_ID = "106540352242922"
BSUID = "US.13491208655302741918"


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return loaded


def only(name: str) -> InboundEvent:
    events = parse_webhook(payload(name))
    assert len(events) == 1, events
    return events[0]


def message(name: str) -> MessageReceived:
    event = only(name)
    assert isinstance(event, MessageReceived), event
    assert event.account_id == PHONE_NUMBER_ID
    assert event.key == f"message:{event.external_id}"
    return event


def test_text_with_sender_ids() -> None:
    text = message("text")
    assert text.kind is MessageKind.TEXT and text.text == "Does it come in another color?"
    assert text.external_id == "wamid.TEXT01"
    assert text.sender.user_id == BSUID and text.sender.phone == "16505551234"
    assert text.sender.name == "Sheena Nelson"
    assert text.timestamp == datetime.fromtimestamp(1749416383, tz=UTC)
    assert text.reply_to is None and text.media is None


@pytest.mark.parametrize(
    ("name", "kind", "media_id", "mime"),
    [
        ("image", MessageKind.IMAGE, "1003383421387256", "image/jpeg"),
        ("video", MessageKind.VIDEO, "1081787923585040", "video/mp4"),
        ("audio", MessageKind.AUDIO, "1091283479247720", "audio/mpeg"),
        ("voice", MessageKind.VOICE, "1003383421387257", "audio/ogg; codecs=opus"),
        ("document", MessageKind.DOCUMENT, "1003383421387258", "application/pdf"),
        ("sticker", MessageKind.STICKER, "1003383421387259", "image/webp"),
    ],
)
def test_media_messages(name: str, kind: MessageKind, media_id: str, mime: str) -> None:
    found = message(name)
    assert found.kind is kind
    assert found.media is not None
    assert found.media.media_id == media_id and found.media.mime_type == mime
    assert found.media.sha256
    assert found.media.voice is (kind is MessageKind.VOICE)


def test_captions_and_filenames() -> None:
    image = message("image")
    assert image.text == "Check out my new product!" and image.media is not None
    assert image.media.caption == "Check out my new product!"
    document = message("document")
    assert document.media is not None
    assert document.media.filename == "lucky-shrub-invoice.pdf"


def test_location_and_contacts() -> None:
    location = message("location").location
    assert location is not None
    assert (location.latitude, location.longitude) == (37.483307, -122.148981)
    assert location.name == "Philz Coffee"
    assert location.address == "1 Hacker Way, Menlo Park, CA 94025"
    shared = message("contacts")
    assert shared.kind is MessageKind.CONTACTS
    assert shared.contacts[0]["name"]["formatted_name"] == "Barbara J. Johnson"


def test_interactive_replies() -> None:
    button = message("interactive_button_reply")
    assert button.kind is MessageKind.BUTTON_REPLY and button.reply is not None
    assert (button.reply.id, button.reply.title) == ("change-button", "Change")
    assert button.reply_to == "wamid.SENT_BUTTONS"
    row = message("interactive_list_reply")
    assert row.kind is MessageKind.LIST_REPLY and row.reply is not None
    assert row.reply.id == "priority_express" and row.reply.description == "Next Day to 2 Days"
    flow = message("interactive_flow_reply")
    assert flow.kind is MessageKind.FLOW_REPLY and flow.reply is not None
    assert flow.reply.data == {"flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "plan": "premium"}


def test_template_button_reply() -> None:
    pressed = message("template_button")
    assert pressed.kind is MessageKind.TEMPLATE_BUTTON and pressed.reply is not None
    assert pressed.reply.payload == "Unsubscribe from Promos"
    assert pressed.reply_to == "wamid.SENT_TEMPLATE"


def test_reactions() -> None:
    reaction = message("reaction")
    assert reaction.kind is MessageKind.REACTION and reaction.reaction is not None
    assert reaction.reaction.message_id == "wamid.SENT_EARLIER"
    assert reaction.reaction.emoji == "\U0001f600"
    removed = message("reaction_removed").reaction
    assert removed is not None and removed.emoji is None


def test_reply_context_and_forwarded() -> None:
    reply = message("reply_context")
    assert reply.reply_to == "wamid.SENT_EARLIER" and reply.forwarded is True


def test_edits_and_deletions() -> None:
    edit = message("edit")
    assert edit.kind is MessageKind.EDIT and edit.target_id == "wamid.TEXT01"
    assert edit.edited is not None and edit.edited.kind is MessageKind.TEXT
    assert edit.text == "Does it come in another colour?"
    deleted = message("revoke")
    assert deleted.kind is MessageKind.DELETE and deleted.target_id == "wamid.TEXT01"


def test_unsupported_keeps_meta_errors() -> None:
    unsupported = message("unsupported")
    assert unsupported.kind is MessageKind.UNSUPPORTED
    assert unsupported.errors[0].code == 131051
    assert unsupported.errors[0].details == "Message type is currently not supported."


def test_order_and_referral() -> None:
    order = message("order")
    assert order.kind is MessageKind.ORDER and order.reply is not None
    assert order.reply.data is not None and order.reply.data["catalog_id"]
    ad = message("referral")
    assert ad.referral is not None and ad.referral["source_type"] == "ad"


def test_system_messages_name_the_new_ids() -> None:
    number = message("system_user_changed_number")
    assert number.kind is MessageKind.SYSTEM and number.system is not None
    assert number.system.type == "user_changed_number"
    assert number.system.new_phone == "16505559999"
    user = message("system_user_changed_user_id")
    assert user.system is not None and user.system.new_user_id == "US.99991208655302741918"
    assert user.sender.user_id == BSUID and user.sender.phone is None


def test_a_customer_known_only_by_username() -> None:
    found = message("username_only")
    assert found.sender.phone is None
    assert found.sender.user_id == "US.77771208655302741918"
    assert found.sender.username == "@kai.design" and found.sender.name == "Kai"


@pytest.mark.parametrize("state", ["sent", "delivered", "read", "played", "failed"])
def test_statuses(state: str) -> None:
    status = only(f"status_{state}")
    assert isinstance(status, StatusUpdated)
    assert status.state is DeliveryState(state)
    assert status.key == f"status:{status.external_id}:{state}"
    assert status.recipient_phone == "16505551234" and status.recipient_user_id == BSUID
    assert status.timestamp == datetime.fromtimestamp(1750263773, tz=UTC)


def test_status_pricing_conversation_and_tracker() -> None:
    sent = only("status_sent")
    assert isinstance(sent, StatusUpdated) and sent.pricing is not None
    assert (sent.pricing.model, sent.pricing.category, sent.pricing.type) == (
        "PMP", "marketing", "regular",
    )  # fmt: skip
    assert sent.pricing.billable is True
    assert sent.conversation_id == "c6c5b4a3e2" and sent.tracker == "campaign-42"


def test_failed_status_keeps_code_title_details() -> None:
    failed = only("status_failed")
    assert isinstance(failed, StatusUpdated)
    error = failed.errors[0]
    assert error.code == 131049 and error.title and error.details


def test_value_errors() -> None:
    errors = only("value_errors")
    assert isinstance(errors, ChannelErrors) and errors.errors[0].code == 130429


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("template_status", TemplateChange.STATUS, {"status": "REJECTED",
                                                     "reason": "INVALID_FORMAT"}),
        ("template_quality", TemplateChange.QUALITY, {"quality": "YELLOW"}),
        ("template_category", TemplateChange.CATEGORY, {"category": "MARKETING",
                                                         "previous_category": "UTILITY"}),
    ],
)  # fmt: skip
def test_template_updates(name: str, change: TemplateChange, expected: dict[str, str]) -> None:
    update = only(name)
    assert isinstance(update, TemplateUpdated)
    assert update.change is change and update.template_id == "594425479261596"
    assert update.account_id == "102290129340398"
    assert update.name == "order_confirmation" and update.language == "en_US"
    for field, value in expected.items():
        assert getattr(update, field) == value


def test_marketing_opt_out() -> None:
    preference = only("user_preferences")
    assert isinstance(preference, MarketingPreference)
    assert preference.value == "stop" and preference.sender.user_id == BSUID


def test_other_fields_are_kept_unrecognized() -> None:
    other = only("account_update")
    assert isinstance(other, Unrecognized) and other.field == "account_update"


def test_a_batch_is_one_event_per_item_and_a_bad_item_blocks_nothing() -> None:
    events = parse_webhook(payload("batch"))
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "MessageReceived", "MessageReceived", "Unrecognized", "StatusUpdated",
        "StatusUpdated", "TemplateUpdated",
    ]  # fmt: skip
    assert len({e.key for e in events}) == len(events)
    broken = events[2]
    assert isinstance(broken, Unrecognized) and broken.raw == {"id": "broken"}


@pytest.mark.parametrize("junk", [{}, {"entry": "x"}, {"entry": [{"changes": [1]}]}, []])
def test_junk_never_raises(junk: Any) -> None:
    parse_webhook(junk)
