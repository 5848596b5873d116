"""AI assistants: the run ledger, follow-up alarms, the language detector, the inbox's
`ChannelBots` on the assistants' store, and the brain (with the assistants' knowledge,
`KnowledgeSearch`, see `api.wiring.knowledge`)."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.ai.assistant_runs import FollowUpAlarms, LanguageDetector, ReplyLedger
from api.domain.ai.assistants import AssistantRepository
from api.domain.ai.knowledge import KnowledgeSearch
from api.domain.ai.ports import StructuredChatModels, UsageLedger
from api.domain.messaging.bots import ChannelBots
from api.infrastructure.ai.language import LinguaLanguageDetector
from api.infrastructure.persistence.ai.assistant_runs import MongoFollowUpAlarms, MongoReplyLedger
from api.usecases.ai.knowledge_rules import KnowledgePolicy
from api.usecases.ai.model_access import ModelAccess
from api.usecases.ai.token_budget import TokenBudget
from api.usecases.assistants.brain import AssistantBrain, AssistantPolicy
from api.wiring.clients import Clients


class AssistantChannelBots:
    """`ChannelBots` adapter: a channel has a bot when an enabled assistant answers on it."""

    def __init__(self, assistants: AssistantRepository) -> None:
        self._assistants = assistants

    async def answers(self, channel_id: str) -> bool:
        return await self._assistants.for_channel(channel_id) is not None


def assistant_policy(settings: Settings) -> AssistantPolicy:
    config = settings.assistants
    return AssistantPolicy(
        context_messages=config.context_messages,
        max_output_tokens=config.max_output_tokens,
        claim_seconds=config.claim_seconds,
        follow_up_idle_minutes=config.follow_up_idle_minutes,
        follow_up_batch=config.follow_up_batch,
    )


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(AssistantPolicy, instance=assistant_policy(settings))
    container.register(ReplyLedger, MongoReplyLedger)
    container.register(FollowUpAlarms, MongoFollowUpAlarms)
    container.register(LanguageDetector, instance=LinguaLanguageDetector())
    container.register(ChannelBots, AssistantChannelBots)


def register_brain(container: punq.Container) -> None:
    """The brain, built when first resolved (it takes use cases of the AI context, which
    discovery registers later)."""

    def brain() -> AssistantBrain:
        return AssistantBrain(
            models=container.resolve(StructuredChatModels),
            access=container.resolve(ModelAccess),
            budget=container.resolve(TokenBudget),
            usage=container.resolve(UsageLedger),
            detector=container.resolve(LanguageDetector),
            policy=container.resolve(AssistantPolicy),
            knowledge=container.resolve(KnowledgeSearch),
            knowledge_policy=container.resolve(KnowledgePolicy),
        )

    container.register(AssistantBrain, factory=brain)
