"""The AI response bodies: the API's `Role` enum is the domain's `Speaker` by another name."""

from __future__ import annotations

from datetime import UTC, datetime

from api.domain.ai.entities import AiMessage
from api.domain.ai.values import Provider, Speaker
from api.interfaces.http.schemas.ai import MessageOut, Role


def test_the_api_role_enum_names_every_speaker() -> None:
    assert [(r.name, r.value) for r in Role] == [(s.name, s.value) for s in Speaker]


def test_a_message_body_carries_its_speaker_as_role() -> None:
    for speaker in Speaker:
        message = AiMessage(
            id="m1", conversation_id="c1", user_id="u1", role=speaker, content="hi",
            model="llama3.2:latest", provider=Provider.OLLAMA,
            created_at=datetime(2024, 5, 1, tzinfo=UTC),
        )  # fmt: skip
        body = MessageOut.of(message)
        assert body.role is Role(speaker.value)
        assert body.model_dump(mode="json")["role"] == speaker.value
