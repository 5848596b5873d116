"""The rules of an AI conversation: its title, which messages go to the model as context,
and the key that names a running generation for stop requests."""

from __future__ import annotations

from collections.abc import Sequence

from api.domain.ai.entities import AiMessage
from api.domain.ai.values import PromptMessage, Speaker, estimate_tokens
from api.domain.tenancy import current_tenant

TITLE_CHARS = 80
CONVERSATION_NOT_FOUND = "No such conversation."


def stop_key(conversation_id: str) -> str:
    return f"{current_tenant()}:{conversation_id}"


def stored_id(value: str | None) -> str:
    """The id of something read from or written to the database (which always has one)."""
    if value is None:
        raise RuntimeError("a stored entity has no id")
    return value


def title_of(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def last_turns(history: Sequence[AiMessage], turns: int) -> list[AiMessage]:
    """The newest message (the question) and the `turns` exchanges before it; never a
    reply without the question it answered."""
    kept = list(history[-(turns * 2 + 1) :])
    while len(kept) > 1 and kept[0].role is not Speaker.USER:
        kept.pop(0)
    return kept


def fit_context(
    history: Sequence[AiMessage], *, max_tokens: int, system_prompt: str | None
) -> list[PromptMessage]:
    """The newest messages whose estimated tokens fit `max_tokens` (the newest, the
    question, always goes), oldest first, after the system prompt if any."""
    kept: list[PromptMessage] = []
    budget = max_tokens - (estimate_tokens(system_prompt) if system_prompt else 0)
    for message in reversed(history):
        if not message.content:
            continue
        cost = estimate_tokens(message.content)
        if kept and cost > budget:
            break
        budget -= cost
        kept.append(PromptMessage(message.role, message.content))
    kept.reverse()
    while len(kept) > 1 and kept[0].role is not Speaker.USER:
        kept.pop(0)  # a reply whose question did not fit
    if system_prompt:
        kept.insert(0, PromptMessage(Speaker.SYSTEM, system_prompt))
    return kept
