"""What an assistant would answer to a message, sending nothing
(`POST /assistants/{id}/test`): for the people who write its instructions and give it
documents.

The same decision as a customer's message gets (`AssistantBrain`: instructions, rules,
language, the passages of its documents, the model's structured answer), on a
conversation of that one message: a keyword of its handoff rules hands over before any
model call, as in a conversation. Business hours, `after_turns` and the assistant's own
daily budget are left out (they depend on a conversation and the day); the call is
counted in the tenant's AI usage and quota like any other (429 when it is spent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.domain.ai.assistant_runs import HandoffReason
from api.domain.ai.assistants import AssistantRepository
from api.domain.ai.knowledge import KnowledgeChunk
from api.domain.ai.values import PromptMessage, Speaker, TokenUsage
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.assistants.brain import AssistantBrain
from api.usecases.assistants.manage import existing_assistant
from api.usecases.assistants.reply import keyword_hit
from api.usecases.kernel.authority import require_permission


@dataclass(frozen=True)
class TrialAnswer:
    """A reply (`text`) or a handoff (`reason`, `summary`), with the passages it used."""

    text: str | None
    reason: HandoffReason | None
    summary: str | None
    language: str | None
    usage: TokenUsage
    sources: list[KnowledgeChunk] = field(default_factory=list)


class TryAssistant:
    def __init__(self, assistants: AssistantRepository, brain: AssistantBrain) -> None:
        self._assistants = assistants
        self._brain = brain

    async def execute(self, principal: Principal, assistant_id: str, message: str) -> TrialAnswer:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        assistant = await existing_assistant(self._assistants, assistant_id)
        text = message.strip()
        hit = keyword_hit(assistant.handoff.keywords, text)
        if hit is not None:
            return TrialAnswer(
                text=None, reason=HandoffReason.KEYWORD,
                summary=f"The customer wrote '{hit}': {text}",
                language=await self._brain.language(assistant, text), usage=TokenUsage(),
            )  # fmt: skip
        decision = await self._brain.decide(assistant, [PromptMessage(Speaker.USER, text)], text)
        return TrialAnswer(
            text=decision.text, reason=decision.reason, summary=decision.summary,
            language=decision.language, usage=decision.usage, sources=decision.sources,
        )  # fmt: skip
