"""The deployment's AI settings as the use cases see them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AiPolicy:
    """The deployment's AI settings (see `AiSettings` for each one's meaning)."""

    default_model: str | None = None
    system_prompt: str | None = None
    context_max_turns: int = 10
    context_max_tokens: int = 4000
    max_message_chars: int = 32000
    keepalive_seconds: float = 15.0
    start_grace_seconds: float = 3.0
    first_token_timeout_seconds: float = 120.0
    token_timeout_seconds: float = 60.0
    max_output_tokens: int = 4096
    quota_hold_seconds: float = 3600.0
