"""What an assistant did, and what it still has to do.

- `ReplyLedger`: one record per piece of the assistant's work, keyed uniquely (per
  tenant) by what triggered it: the inbound message a reply answers (`reply:<id>`), a
  follow-up or a resolution. A job first claims the key; only the claim's holder works,
  so duplicate webhooks and retried jobs give one reply per inbound message. A claim
  whose holder crashed lapses after its `until`, so a retry may take it over. The
  finished records are the assistant's stats (outcomes, handoff reasons, tokens,
  latency) and its daily token count.
- `FollowUpAlarms`: when a bot conversation goes idle, what is due (`follow_up`, then
  `resolve`); the one cross-tenant read is the periodic job's `due`.
- `LanguageDetector`: the language of a customer's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel


class Outcome(StrEnum):
    REPLIED = "replied"  # the model's reply was queued for sending
    HANDED_OFF = "handed_off"  # the conversation went to humans (`reason`)
    SUPPRESSED = "suppressed"  # an agent took over or wrote meanwhile: nothing sent
    OUT_OF_HOURS = "out_of_hours"  # the out-of-hours message (or nothing: sent already)
    SKIPPED = "skipped"  # not the bot's any more, no assistant, nothing to answer
    FOLLOWED_UP = "followed_up"  # the idle conversation's one follow-up
    RESOLVED = "resolved"  # idle after its follow-up: resolved by the assistant


class HandoffReason(StrEnum):
    REQUEST = "request"  # the customer asked for a human (the model's decision)
    KEYWORD = "keyword"  # the inbound text holds one of the assistant's keywords
    AFTER_TURNS = "after_turns"  # the assistant replied `after_turns` times already
    UNSURE = "unsure"  # the model was not sure of an answer
    BUDGET = "budget"  # the assistant's or the tenant's daily tokens are used up
    ERROR = "error"  # the model failed for good (provider down, unreadable answer)


class RunRecord(BaseModel):
    """One finished piece of work."""

    key: str
    assistant_id: str
    conversation_id: str
    outcome: Outcome
    reason: HandoffReason | None = None
    reply_message_id: str | None = None
    language: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int | None = None  # from the inbound message to the reply queued
    finished_at: datetime


class AssistantStats(BaseModel):
    conversations: int
    resolved_without_handoff: int
    handed_off: int
    handoff_reasons: dict[str, int]
    replies: int
    input_tokens: int
    output_tokens: int
    latency_p50_ms: int | None
    latency_p90_ms: int | None


class ReplyLedger(Protocol):
    """The current tenant's records of assistants' work."""

    async def claim(self, key: str, *, now: datetime, until: datetime) -> bool:
        """Take `key` until `until`: True when it was free (never claimed, or a claim that
        lapsed before `now`); False when it is done or held by another job."""
        ...

    async def release(self, key: str) -> None:
        """Give back an unfinished claim (a transient failure: the retry claims again)."""
        ...

    async def finish(self, record: RunRecord) -> None:
        """Store the outcome of the claimed `record.key`."""
        ...

    async def replies_in(self, conversation_id: str) -> int:
        """How many replies assistants sent in the conversation (its turns)."""
        ...

    async def tokens_since(self, assistant_id: str, since: datetime) -> int:
        """The tokens the assistant's work finished since `since` used."""
        ...

    async def stats(self, assistant_id: str) -> AssistantStats: ...


class FollowUpStage(StrEnum):
    FOLLOW_UP = "follow_up"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class DueFollowUp:
    """A bot conversation whose idle time has come, in whichever tenant."""

    tenant_id: str
    conversation_id: str
    assistant_id: str
    stage: FollowUpStage
    due_at: datetime


class FollowUpAlarms(Protocol):
    """When idle bot conversations are followed up; one alarm per conversation."""

    async def schedule(
        self, conversation_id: str, assistant_id: str, stage: FollowUpStage, due_at: datetime
    ) -> None:
        """Set (or move) the conversation's alarm (current tenant)."""
        ...

    async def cancel(self, conversation_id: str) -> None:
        """No alarm for the conversation any more (current tenant)."""
        ...

    async def take(self, alarm: DueFollowUp) -> bool:
        """Remove the alarm if it is still this one (same stage and time, current tenant):
        of two runs taking it, one wins."""
        ...

    async def due(self, at: datetime, limit: int) -> list[DueFollowUp]:
        """Across tenants: at most `limit` alarms due at `at` or earlier, earliest first."""
        ...


class LanguageDetector(Protocol):
    async def detect(self, text: str) -> str | None:
        """The ISO 639-1 code (lower case) of the text's language; None when unsure."""
        ...
