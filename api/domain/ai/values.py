"""AI chat values: providers, the speakers of a conversation, models, token counts, the
pieces of a streamed reply and the reasons a reply ends."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

CHARS_PER_TOKEN = 4  # the usual estimate where a provider reports no counts


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters per token), never below one."""
    return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


class Provider(StrEnum):
    OLLAMA = "ollama"
    OPENAI = "openai"


class Speaker(StrEnum):
    """Who says a message in an AI conversation (a model's "role"; not an RBAC role)."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class ModelInfo(BaseModel):
    """A model a provider offers, as the provider describes it."""

    id: str
    provider: Provider
    details: dict[str, Any] = Field(default_factory=dict)


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False  # counted by Parley because the provider reported none

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class FinishReason(StrEnum):
    STOP = "stop"  # the model finished
    LENGTH = "length"  # the provider's output limit
    STOPPED = "stopped"  # a stop request (`POST /conversations/{id}/stop`)
    DISCONNECTED = "disconnected"  # the client went away
    ERROR = "error"  # the provider failed or timed out mid-stream

    @property
    def is_partial(self) -> bool:
        """The reply ended before the model finished it."""
        return self not in (FinishReason.STOP, FinishReason.LENGTH)


@dataclass(frozen=True)
class PromptMessage:
    """One message sent to a model as context."""

    role: Speaker
    content: str


@dataclass(frozen=True)
class ChatDelta:
    """A piece of a reply as a provider streams it: text, and usage when it reports some."""

    content: str = ""
    usage: TokenUsage | None = None
    finish_reason: FinishReason | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A tool a model is asked to call: its name, what it is for, and its arguments as a
    JSON schema (an object)."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """What a model answered through a tool: the arguments, and the tokens it used."""

    arguments: dict[str, Any]
    usage: TokenUsage


@dataclass(frozen=True)
class QuotaSettlement:
    """A call's quota hold to settle: the `held` tokens of `day` (0: none was taken, the
    tenant had no quota) replaced by the `used` ones."""

    day: str
    hold_id: str
    held: int
    used: int
