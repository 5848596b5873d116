"""What an assistant would answer: the prompt, the model's structured decision, its cost.

The prompt is the assistant's instructions, the rules of its decision, the language to
answer in, the passages of its documents nearest to the question, then the
conversation's latest messages (customer: `user`, agents' and the assistant's:
`assistant`; private notes never).

Knowledge (`KnowledgeSearch`): the question's `KNOWLEDGE_TOP_K` nearest passages whose
cosine similarity reaches `KNOWLEDGE_MIN_SCORE` go into the prompt, numbered with their
file names, and the model is told to answer from them and name the document; they are
the decision's `sources`. When the assistant has documents but none of their passages
reaches the score, and its `when_unsure` rule is on, the model is told that the documents
do not cover the message and that it must hand over (`unsure`) rather than answer a
question of fact from its own knowledge (a greeting it may still answer).

The model answers through the tool `respond` (`StructuredChatModels`), never in free
text: `{"action": "reply", "text"}` or `{"action": "handoff", "reason": "request" |
"unsure", "summary"}`. A reply without text is a handoff (`error`). Each call holds its
tokens of the tenant's daily quota first (`TokenBudget`: `QuotaExceeded` when used up)
and settles what it used, which the tenant's usage ledger counts under the user
`assistant:<id>`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from api.domain.ai.assistant_runs import HandoffReason, LanguageDetector
from api.domain.ai.assistants import AUTO_LANGUAGE, Assistant
from api.domain.ai.knowledge import KnowledgeChunk, KnowledgeSearch
from api.domain.ai.ports import StructuredChatModels, UsageLedger
from api.domain.ai.values import PromptMessage, Speaker, TokenUsage, ToolSpec
from api.usecases.ai.days import utc_day
from api.usecases.ai.knowledge_rules import KnowledgePolicy
from api.usecases.ai.model_access import ModelAccess
from api.usecases.ai.token_budget import TokenBudget

log = logging.getLogger(__name__)

UNCOVERED = (
    "None of the business's documents covers the customer's last message. If it asks for "
    "information (facts, prices, dates, policies, how something works), do not answer from "
    "your own knowledge: hand over with action `handoff`, reason `unsure`. You may still "
    "answer a greeting or small talk."
)
TOOL = ToolSpec(
    name="respond",
    description="Answer the customer, or hand the conversation over to a human agent.",
    parameters={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["reply", "handoff"]},
            "text": {"type": "string", "description": "reply: the message to the customer"},
            "reason": {"type": "string", "enum": ["request", "unsure"],
                       "description": "handoff: why"},
            "summary": {"type": "string",
                        "description": "handoff: what the customer needs, for the agent"},
        },
        "required": ["action"],
    },
)  # fmt: skip


@dataclass(frozen=True)
class AssistantPolicy:
    """`ASSISTANT_*` settings the use cases need."""

    context_messages: int = 12
    max_output_tokens: int = 512
    claim_seconds: int = 300
    follow_up_idle_minutes: int = 60
    follow_up_batch: int = 200


@dataclass(frozen=True)
class Decision:
    """The model's answer: a reply (`text`) or a handoff (`reason`, `summary`)."""

    text: str | None
    reason: HandoffReason | None
    summary: str | None
    usage: TokenUsage
    language: str | None
    sources: list[KnowledgeChunk] = field(default_factory=list)

    @property
    def is_handoff(self) -> bool:
        return self.reason is not None


def rules_text(assistant: Assistant) -> str:
    rules = assistant.handoff
    when: list[str] = []
    if rules.on_request:
        when.append("the customer asks to talk to a person (reason `request`)")
    if rules.when_unsure:
        when.append(
            "you are not sure of the answer: never invent facts, prices, dates or policies "
            "(reason `unsure`)"
        )
    handoff = (
        "Hand over (action `handoff`, with a short `summary` of what the customer needs "
        "for the human agent) when " + "; or when ".join(when) + "."
        if when
        else "Hand over (action `handoff`) only when you cannot help at all."
    )
    return (
        "Answer by calling the tool `respond` exactly once. To answer the customer use "
        "action `reply` with `text`: plain text, short, friendly, as in a chat. " + handoff
    )


def language_text(language: str | None) -> str:
    if language is None:
        return "Reply in the language the customer writes in."
    return f"Reply in the language with ISO 639-1 code '{language}'."


def knowledge_text(chunks: Sequence[KnowledgeChunk]) -> str:
    lines = [
        "Answer from these passages of the business's documents when they cover the "
        "question, and name the document you used (e.g. 'see prices.pdf'):"
    ]
    for number, chunk in enumerate(chunks, 1):
        lines.append(f"[{number}] {chunk.filename}: {chunk.text}")
    return "\n".join(lines)


def answer_language(languages: str | list[str], detected: str | None) -> str | None:
    """ "auto": the detected language (None: the model follows the customer); a list: the
    detected one when listed, else the list's first."""
    if languages == AUTO_LANGUAGE or isinstance(languages, str):
        return detected
    fixed = [code.lower() for code in languages]
    if detected is not None and detected in fixed:
        return detected
    return fixed[0] if fixed else detected


class AssistantBrain:
    """Decides what an assistant answers (see the module's docstring)."""

    def __init__(
        self,
        models: StructuredChatModels,
        access: ModelAccess,
        budget: TokenBudget,
        usage: UsageLedger,
        detector: LanguageDetector,
        policy: AssistantPolicy,
        knowledge: KnowledgeSearch | None = None,  # the seam of issue 15 point 5
        knowledge_policy: KnowledgePolicy | None = None,
    ) -> None:
        self._models = models
        self._access = access
        self._budget = budget
        self._usage = usage
        self._detector = detector
        self._policy = policy
        self._knowledge = knowledge
        self._knowledge_policy = knowledge_policy or KnowledgePolicy()

    async def language(self, assistant: Assistant, text: str) -> str | None:
        """The language to answer `text` in: the detected one ("auto"), else the detected
        one when it is in the assistant's list, else the list's first."""
        detected = await self._detector.detect(text) if text else None
        return answer_language(assistant.languages, detected)

    async def decide(
        self, assistant: Assistant, history: Sequence[PromptMessage], text: str
    ) -> Decision:
        """The model's decision on the conversation `history` (oldest first, ending with
        the customer's `text`). Raises `QuotaExceeded` (the tenant's quota),
        `UnknownModel`, `ProviderUnavailable`, `ProviderRejected`."""
        language, (model, tenant), (sources, uncovered) = await asyncio.gather(
            self.language(assistant, text),
            self._access.resolve(assistant.model, None),
            self._passages(assistant, text),
        )
        system = [assistant.instructions.strip(), rules_text(assistant), language_text(language)]
        if sources:
            system.append(knowledge_text(sources))
        elif uncovered and assistant.handoff.when_unsure:
            system.append(UNCOVERED)
        prompt = [PromptMessage(Speaker.SYSTEM, "\n\n".join(p for p in system if p)), *history]
        hold = await self._budget.hold(tenant, prompt)
        usage: TokenUsage | None = None
        try:
            call = await self._models.call_tool(
                model, prompt, TOOL,
                max_output_tokens=min(hold.max_output_tokens, self._policy.max_output_tokens),
            )  # fmt: skip
            usage = call.usage
        finally:
            counted = [self._budget.settle(hold, usage)]
            if usage is not None:
                counted.append(
                    self._usage.add(
                        day=utc_day(), user_id=f"assistant:{assistant.id}", model=model,
                        usage=usage,
                    )
                )  # fmt: skip
            await asyncio.gather(*counted)
        return _decision(call.arguments, usage, language, sources)

    async def _passages(self, assistant: Assistant, text: str) -> tuple[list[KnowledgeChunk], bool]:
        """The passages that cover `text`, and whether the assistant has documents that
        do not (passages were found, none near enough)."""
        if self._knowledge is None or assistant.id is None or not text:
            return [], False
        policy = self._knowledge_policy
        found = await self._knowledge.search(assistant.id, text, k=policy.top_k)
        covering = [chunk for chunk in found if chunk.score >= policy.min_score]
        return covering, bool(found) and not covering


def _decision(
    arguments: dict[str, Any],
    usage: TokenUsage,
    language: str | None,
    sources: list[KnowledgeChunk],
) -> Decision:
    action = str(arguments.get("action") or "").lower()
    text = arguments.get("text")
    summary = arguments.get("summary")
    summary = summary.strip() if isinstance(summary, str) and summary.strip() else None
    if action == "reply" and isinstance(text, str) and text.strip():
        return Decision(text.strip()[:4096], None, None, usage, language, sources)
    if action == "handoff":
        raw = str(arguments.get("reason") or "").lower()
        reason = HandoffReason.UNSURE if raw == HandoffReason.UNSURE else HandoffReason.REQUEST
        return Decision(None, reason, summary, usage, language, sources)
    log.warning("the model's decision had no usable action: %s", sorted(arguments))
    return Decision(None, HandoffReason.ERROR, summary, usage, language, sources)
