"""The assistants' pure rules: keywords as whole words, the model's decision read from its
tool arguments, the conversation as the model sees it, the language to answer in, and
the follow-up's choice of text or template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.domain.ai.assistant_runs import HandoffReason
from api.domain.ai.assistants import Assistant, FollowUp
from api.domain.ai.values import PromptMessage, Speaker, TokenUsage
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.conversations import ContactSummary, Conversation
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.usecases.assistants.brain import _decision, answer_language
from api.usecases.assistants.follow_up import follow_up_draft
from api.usecases.assistants.reply import history_of, keyword_hit

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
USAGE = TokenUsage(input_tokens=1, output_tokens=1)


def test_keywords_match_whole_words_in_any_case() -> None:
    assert keyword_hit(["refund", "human agent"], "I want a REFUND!") == "refund"
    assert keyword_hit(["refund"], "refunds are nice") is None
    assert keyword_hit(["human agent"], "a Human  agent") is None  # words as written
    assert keyword_hit(["human agent"], "a human agent please") == "human agent"
    assert keyword_hit([" ", ""], "anything") is None


@pytest.mark.parametrize(
    ("arguments", "text", "reason"),
    [
        ({"action": "reply", "text": " Hi "}, "Hi", None),
        ({"action": "REPLY", "text": "Hi"}, "Hi", None),
        ({"action": "reply", "text": " "}, None, HandoffReason.ERROR),
        ({"action": "handoff", "reason": "unsure"}, None, HandoffReason.UNSURE),
        ({"action": "handoff", "reason": "whatever"}, None, HandoffReason.REQUEST),
        ({"text": "no action"}, None, HandoffReason.ERROR),
    ],
)
def test_the_decision_is_read_from_the_tool_arguments(
    arguments: dict[str, object], text: str | None, reason: HandoffReason | None
) -> None:
    decision = _decision(arguments, USAGE, None, [])
    assert (decision.text, decision.reason) == (text, reason)


def message(direction: Direction, text: str | None, **changes: object) -> Message:
    return Message.model_validate(
        {"conversation_id": "c1", "channel_id": "ch", "direction": direction, "type": "text",
         "text": text, "status": MessageStatus.RECEIVED, "created_at": T0,
         "sender": MessageSender(type=SenderType.CONTACT), **changes}
    )  # fmt: skip


def test_the_model_sees_the_conversation_oldest_first_without_private_notes() -> None:
    newest_first = [
        message(Direction.INBOUND, "Thanks"),
        message(Direction.OUTBOUND, "Agents only", private=True),
        message(Direction.OUTBOUND, "We open at 9"),
        message(Direction.INBOUND, None, type="image"),
    ]
    assert history_of(newest_first) == [
        PromptMessage(Speaker.USER, "[image]"),
        PromptMessage(Speaker.ASSISTANT, "We open at 9"),
        PromptMessage(Speaker.USER, "Thanks"),
    ]


def assistant(**changes: object) -> Assistant:
    return Assistant.model_validate(
        {"name": "Ada", "model": "m", "created_at": T0, "updated_at": T0, **changes}
    )


@pytest.mark.parametrize(
    ("languages", "detected", "expected"),
    [
        ("auto", "es", "es"),
        ("auto", None, None),
        (["de", "en"], "en", "en"),
        (["de", "en"], "es", "de"),
        (["de", "en"], None, "de"),
    ],
)
def test_the_language_to_answer_in(
    languages: str | list[str], detected: str | None, expected: str | None
) -> None:
    assert answer_language(languages, detected) == expected


def conversation(window: datetime | None) -> Conversation:
    return Conversation(
        id="c1", channel_id="ch", channel_type=ChannelType.WHATSAPP,
        contact=ContactSummary(id="k1"), window_expires_at=window, created_at=T0, updated_at=T0,
    )  # fmt: skip


def test_the_follow_up_is_text_in_the_window_and_a_template_outside() -> None:
    both = assistant(follow_up=FollowUp(message="Still there?", template_name="nudge",
                                        template_language="en"))  # fmt: skip
    inside = follow_up_draft(both, conversation(T0 + timedelta(hours=1)), T0)
    outside = follow_up_draft(both, conversation(T0 - timedelta(hours=1)), T0)
    assert inside is not None and inside.content.kind == "text"
    assert outside is not None and outside.content.kind == "template"
    text_only = assistant(follow_up=FollowUp(message="Still there?"))
    assert follow_up_draft(text_only, conversation(None), T0) is None
    assert follow_up_draft(assistant(), conversation(T0 + timedelta(hours=1)), T0) is None
