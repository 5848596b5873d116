"""Telegram's updates as the neutral events: keys by `update_id`, provider ids per chat,
button presses, reactions, edits, and what is not a customer's (groups, bots, unknown
kinds) kept as `Unrecognized`; Meta's interactive shape as an inline keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Message

from api.domain.messaging.errors import ChannelPermanentFailure
from api.domain.messaging.events import MessageKind, MessageReceived, Unrecognized
from api.infrastructure.channels.telegram.gateway import (
    file_id_of,
    inline_keyboard,
    message_id_of,
    refused_file_id,
)
from api.infrastructure.channels.telegram.webhook import parse_update

USER = {"id": 42, "is_bot": False, "first_name": "Ana", "username": "ana"}
CHAT = {"id": 42, "type": "private"}


def only(payload: dict[str, Any]) -> MessageReceived:
    [event] = parse_update(payload)
    assert isinstance(event, MessageReceived)
    return event


def test_a_text_message() -> None:
    event = only(
        {
            "update_id": 9,
            "message": {
                "message_id": 5,
                "date": 1700000000,
                "chat": CHAT,
                "from": USER,
                "text": "hi",
            },
        }
    )
    assert event.key == "update:9" and event.external_id == "42:5" and event.text == "hi"
    assert event.sender.user_id == "42" and event.sender.username == "ana"
    assert event.sender.name == "Ana" and event.timestamp.timestamp() == 1700000000


def test_a_button_press_and_a_reaction() -> None:
    pressed = only(
        {
            "update_id": 10,
            "callback_query": {
                "id": "cb1",
                "from": USER,
                "data": "yes",
                "message": {
                    "message_id": 7,
                    "date": 1,
                    "chat": CHAT,
                    "reply_markup": {
                        "inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]
                    },
                },
            },
        }
    )
    assert pressed.kind is MessageKind.BUTTON_REPLY and pressed.reply is not None
    assert (pressed.reply.id, pressed.reply.title, pressed.reply_to) == ("yes", "Yes", "42:7")
    assert pressed.press_id == "cb1"  # answered once stored
    reacted = only(
        {
            "update_id": 11,
            "message_reaction": {
                "chat": CHAT,
                "message_id": 7,
                "user": USER,
                "date": 2,
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "❤"}],
            },
        }
    )
    assert reacted.kind is MessageKind.REACTION and reacted.reaction is not None
    assert (reacted.reaction.message_id, reacted.reaction.emoji) == ("42:7", "❤")


def test_an_edit_names_the_original() -> None:
    edit = only(
        {
            "update_id": 12,
            "edited_message": {
                "message_id": 5,
                "date": 1,
                "edit_date": 3,
                "chat": CHAT,
                "from": USER,
                "text": "fixed",
            },
        }
    )
    assert edit.kind is MessageKind.EDIT and edit.target_id == "42:5"
    assert edit.edited is not None and edit.edited.text == "fixed"


@pytest.mark.parametrize(
    "payload",
    [
        {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1,
                "text": "x",
                "from": USER,
                "chat": {"id": -100, "type": "group"},
            },
        },
        {
            "update_id": 2,
            "message": {
                "message_id": 1,
                "date": 1,
                "text": "x",
                "chat": CHAT,
                "from": {**USER, "is_bot": True},
            },
        },
        {"update_id": 3, "my_chat_member": {"chat": CHAT}},
        {"update_id": 4, "message": {"date": 1}},
    ],
)
def test_what_is_no_customer_message_is_unrecognized(payload: dict[str, Any]) -> None:
    [event] = parse_update(payload)
    assert isinstance(event, Unrecognized) and event.key == f"update:{payload['update_id']}"


def test_interactive_as_an_inline_keyboard() -> None:
    text, markup = inline_keyboard(
        {
            "type": "list",
            "body": {"text": "Choose"},
            "action": {
                "button": "Menu",
                "sections": [
                    {
                        "title": "A",
                        "rows": [{"id": "r1", "title": "One"}, {"id": "r2", "title": "Two"}],
                    }
                ],
            },
        }
    )
    assert text == "Choose"
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["r1"], ["r2"]]
    _, link = inline_keyboard(
        {
            "type": "cta_url",
            "body": {"text": "See"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Open", "url": "https://x.example"},
            },
        }
    )
    assert link.inline_keyboard[0][0].url == "https://x.example"
    with pytest.raises(ChannelPermanentFailure):
        inline_keyboard({"type": "button", "body": {"text": "No buttons"}, "action": {}})
    assert message_id_of("42:7") == 7
    with pytest.raises(ChannelPermanentFailure):
        message_id_of("wamid.XYZ")


def sent(**extra: Any) -> Message:
    data = {"message_id": 9, "date": 1700000000, "chat": {"id": 5, "type": "private"}, **extra}
    return Message.de_json(data, None)


def test_the_file_id_of_a_sent_file_is_the_largest_photo_or_the_file() -> None:
    sizes = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 960},
        {"file_id": "medium", "file_unique_id": "m", "width": 320, "height": 240},
    ]
    assert file_id_of(sent(photo=sizes)) == "large"
    document = {"file_id": "doc", "file_unique_id": "d", "file_name": "a.pdf"}
    assert file_id_of(sent(document=document)) == "doc"
    voice = {"file_id": "v", "file_unique_id": "v", "duration": 3}
    assert file_id_of(sent(voice=voice)) == "v"
    assert file_id_of(sent(text="hello")) is None


def test_a_refused_file_id_is_told_from_other_bad_requests() -> None:
    def bad(text: str, code: int = 400) -> ChannelPermanentFailure:
        return ChannelPermanentFailure(text, provider_code=code)

    assert refused_file_id(bad("Wrong file identifier/HTTP URL specified"))
    assert refused_file_id(
        bad("Bad Request: wrong remote file identifier specified: Wrong padding")
    )
    assert refused_file_id(bad("Bad Request: type of file mismatch"))
    assert not refused_file_id(bad("Bad Request: chat not found"))
    assert not refused_file_id(bad("Forbidden: wrong file identifier", 403))
