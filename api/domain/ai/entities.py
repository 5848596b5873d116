"""AI chat records: conversations, their messages, a tenant's AI settings, usage rows.

An AI conversation belongs to one user in one tenant; each message is its own document
(a conversation never grows one ever-larger record). The model's reply reaches the
client as a stream of deltas; what was produced is saved when the stream ends, also when
it ends early (client gone, stopped, provider failure): then the reply is `partial`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from api.domain.ai.values import FinishReason, Provider, Speaker, TokenUsage


class AiConversation(BaseModel):
    id: str | None = None
    tenant_id: str = ""
    user_id: str
    title: str
    model: str
    provider: Provider
    message_count: int = 0
    created_at: datetime
    updated_at: datetime


class AiMessage(BaseModel):
    id: str | None = None
    tenant_id: str = ""
    conversation_id: str
    user_id: str
    role: Speaker
    content: str
    model: str
    provider: Provider
    partial: bool = False
    finish_reason: FinishReason | None = None
    usage: TokenUsage | None = None
    created_at: datetime


@dataclass
class AiMessagePage:
    """Messages in order (oldest first); `next_cursor` reads the older ones, if any."""

    items: list[AiMessage]
    next_cursor: str | None = None


@dataclass(frozen=True)
class AiTenantSettings:
    """What a tenant's admins chose: which models (None: all the deployment offers), a
    default, and a daily token budget (None: no limit)."""

    allowed_models: tuple[str, ...] | None = None
    default_model: str | None = None
    daily_token_quota: int | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class UsageRow:
    """Tokens used in one UTC day by one user with one model."""

    day: str  # YYYY-MM-DD
    user_id: str
    model: str
    provider: Provider
    input_tokens: int
    output_tokens: int
    messages: int
