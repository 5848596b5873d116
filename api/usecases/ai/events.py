"""What an answer's stream is made of: `Started`, `Token`s, then `Finished` or `Failed`,
with `KeepAlive`s while the model is quiet."""

from __future__ import annotations

from dataclasses import dataclass

from api.domain.ai.values import FinishReason, ModelInfo, TokenUsage
from api.domain.errors import ParleyError


@dataclass(frozen=True)
class Started:
    conversation_id: str
    message_id: str  # the assistant's reply (saved when it ends)
    user_message_id: str
    model: ModelInfo


@dataclass(frozen=True)
class Token:
    content: str


@dataclass(frozen=True)
class Finished:
    message_id: str | None  # None: the model said nothing, so nothing was saved
    usage: TokenUsage
    partial: bool
    finish_reason: FinishReason


@dataclass(frozen=True)
class Failed:
    error: ParleyError
    message_id: str | None  # the partial reply saved before the failure, if any
    before_first_token: bool


@dataclass(frozen=True)
class KeepAlive:
    pass


StreamEvent = Started | Token | Finished | Failed | KeepAlive
GenerationItem = Token | Finished | Failed  # what a generation puts on its queue
QueueItem = GenerationItem | KeepAlive  # and the answer's keep-alives (`Answer.events`)
