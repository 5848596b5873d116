"""Pure rules of the sending path: recipients, request fingerprints, the request body's
shape, the send job's retry delays."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.domain.messaging.errors import ChannelRateLimited, ChannelTransientFailure
from api.domain.messaging.outbound import InvalidRecipient, MediaDraft, OutboundDraft
from api.interfaces.http.schemas.sending import MessageSendIn
from api.interfaces.jobs.base import RetryPolicy
from api.usecases.messaging.sending_rules import fingerprint, recipient_identity


@pytest.mark.parametrize(
    ("to", "wa_id", "bsuid"),
    [("+15551234567", "15551234567", None), (" +447700900123 ", "447700900123", None),
     ("US.13491208655302741918", None, "US.13491208655302741918")],
)  # fmt: skip
def test_recipients(to: str, wa_id: str | None, bsuid: str | None) -> None:
    identity = recipient_identity(to)
    assert (identity.wa_id, identity.bsuid) == (wa_id, bsuid)


@pytest.mark.parametrize("to", ["15551234567", "+0123456789", "+1 555 123", "user@example.com"])
def test_bad_recipients(to: str) -> None:
    with pytest.raises(InvalidRecipient):
        recipient_identity(to)


def test_a_fingerprint_tells_bodies_apart_and_ignores_key_order() -> None:
    one = MessageSendIn.model_validate(
        {"conversation_id": "c", "type": "text", "text": {"body": "a"}}
    ).draft()
    same = MessageSendIn.model_validate(
        {"text": {"body": "a"}, "type": "text", "conversation_id": "c"}
    ).draft()
    other = MessageSendIn.model_validate(
        {"conversation_id": "c", "type": "text", "text": {"body": "b"}}
    ).draft()
    assert fingerprint(one) == fingerprint(same) != fingerprint(other)


def test_the_body_becomes_a_draft_of_its_type() -> None:
    body = MessageSendIn.model_validate(
        {"channel_id": "ch", "to": "+15551234567", "type": "video",
         "video": {"file_id": "f1", "caption": "Clip"}, "reply_to": "m1"}
    )  # fmt: skip
    draft = body.draft()
    assert isinstance(draft, OutboundDraft) and draft.type == "video"
    assert isinstance(draft.content, MediaDraft) and draft.content.file_id == "f1"
    assert draft.reply_to == "m1"


@pytest.mark.parametrize(
    "interactive",
    [{"type": "button", "action": {}}, {"type": "nope", "action": {}},
     {"type": "list", "body": {"text": "x"}, "action": []}],
)  # fmt: skip
def test_interactive_needs_its_essentials(interactive: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MessageSendIn.model_validate(
            {"conversation_id": "c", "type": "interactive", "interactive": interactive}
        )


def test_retry_delays_back_off_and_honour_rate_limits_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retries=5, backoff_seconds=1, backoff_max_seconds=10,
                         honor_retry_after=True)  # fmt: skip
    transient = ChannelTransientFailure("5xx")
    for attempt in range(6):
        delay = policy.countdown(attempt, transient)
        assert 0.5 <= delay <= min(10, 2**attempt)
    assert policy.countdown(0, ChannelRateLimited(6.0)) >= 6.0
    assert policy.countdown(0, ChannelRateLimited(600.0)) == 10
    plain = RetryPolicy(max_retries=5, backoff_seconds=1, backoff_max_seconds=10)
    assert plain.countdown(0, ChannelRateLimited(6.0)) <= 1
