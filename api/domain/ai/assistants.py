"""AI assistants: the tenant's model answering customers on its channels.

An assistant names a model the tenant may use, its instructions, the channels it answers
on, the languages it replies in ("auto": the customer's, detected on each inbound text;
else a fixed list, the first being the default), when it hands a conversation over to
humans (`HandoffRules`), business hours with an out-of-hours message, a daily token
budget of its own (inside the tenant's AI quota), and a follow-up for idle conversations.
A channel is answered by at most one enabled assistant (`for_channel`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.business_hours import BusinessHours

AUTO_LANGUAGE = "auto"


class HandoffRules(BaseModel):
    """When the assistant gives a conversation to humans: when the customer asks for one
    (`on_request`, the model's decision), after `after_turns` of its replies (None: never),
    when an inbound text contains one of `keywords` (any case), and when the model is not
    sure of an answer (`when_unsure`)."""

    model_config = ConfigDict(frozen=True)

    on_request: bool = True
    after_turns: int | None = Field(default=None, ge=1, le=100)
    keywords: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=50
    )
    when_unsure: bool = True


class FollowUp(BaseModel):
    """What an idle bot conversation gets once before it is resolved: `message` inside
    the customer service window, the approved template `template_name` (in
    `template_language`) outside it. Without a template, a conversation whose window has
    closed is resolved without a follow-up."""

    model_config = ConfigDict(frozen=True)

    message: str | None = Field(default=None, min_length=1, max_length=4096)
    template_name: str | None = Field(default=None, min_length=1, max_length=512)
    template_language: str | None = Field(default=None, min_length=2, max_length=15)


class Assistant(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    name: str
    model: str
    instructions: str = ""
    channel_ids: list[str] = Field(default_factory=list)
    enabled: bool = True
    languages: Literal["auto"] | list[str] = "auto"
    handoff: HandoffRules = Field(default_factory=HandoffRules)
    business_hours: BusinessHours | None = None
    out_of_hours_message: str | None = None
    max_tokens_per_day: int | None = None
    follow_up: FollowUp | None = None
    created_at: datetime
    updated_at: datetime


class AssistantPage(BaseModel):
    items: list[Assistant]
    total: int


class AssistantRepository(Protocol):
    """Assistants of the current tenant."""

    async def add(self, assistant: Assistant) -> Assistant: ...

    async def get(self, assistant_id: str) -> Assistant | None: ...

    async def update(self, assistant_id: str, changes: dict[str, object]) -> Assistant | None:
        """Set the given fields (and `updated_at`); None when absent."""
        ...

    async def delete(self, assistant_id: str) -> bool: ...

    async def search(self, *, skip: int, limit: int) -> AssistantPage:
        """Oldest first, and the total."""
        ...

    async def for_channel(self, channel_id: str) -> Assistant | None:
        """The enabled assistant answering on the channel (the oldest, should two claim
        it), or None."""
        ...

    async def claiming(self, channel_ids: list[str]) -> list[Assistant]:
        """The enabled assistants that answer on any of these channels."""
        ...
