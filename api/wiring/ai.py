"""AI chat: the configured model providers, stop requests across replicas, the stores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import punq

from api.config import Settings
from api.domain.ai.assistants import AssistantRepository
from api.domain.ai.ports import (
    AiConversationRepository,
    AiMessageRepository,
    AiSettingsRepository,
    AiTurns,
    ChatModels,
    QuotaHolds,
    StopSignals,
    StructuredChatModels,
    UsageLedger,
)
from api.domain.lifecycle import Closeable, Listener
from api.infrastructure.ai.catalog import ProviderChatModels
from api.infrastructure.cache.stop_signals import RedisStopSignals
from api.infrastructure.persistence.ai.assistants import BeanieAssistantRepository
from api.infrastructure.persistence.ai.conversations import BeanieAiConversationRepository
from api.infrastructure.persistence.ai.messages import BeanieAiMessageRepository
from api.infrastructure.persistence.ai.quota import MongoQuotaHolds
from api.infrastructure.persistence.ai.settings import (
    CachingAiSettings,
    MongoAiSettingsRepository,
)
from api.infrastructure.persistence.ai.turns import MongoAiTurns
from api.infrastructure.persistence.ai.usage import MongoUsageLedger
from api.usecases.ai.policy import AiPolicy
from api.wiring.clients import Clients

if TYPE_CHECKING:
    from api.infrastructure.ai.base import ChatProvider


def ai_policy(settings: Settings) -> AiPolicy:
    ai = settings.ai
    return AiPolicy(
        default_model=ai.ai_default_model,
        system_prompt=ai.ai_system_prompt,
        context_max_turns=ai.ai_context_max_turns,
        context_max_tokens=ai.ai_context_max_tokens,
        max_message_chars=ai.ai_max_message_chars,
        keepalive_seconds=ai.ai_keepalive_seconds,
        start_grace_seconds=ai.ai_start_grace_seconds,
        first_token_timeout_seconds=ai.ai_first_token_timeout_seconds,
        token_timeout_seconds=ai.ai_token_timeout_seconds,
        max_output_tokens=ai.ai_max_output_tokens,
        quota_hold_seconds=ai.ai_quota_hold_seconds,
    )


def chat_models(settings: Settings) -> ProviderChatModels:
    """The configured providers: Ollama when `OLLAMA_HOST` is set, an OpenAI-compatible
    server when `OPENAI_API_KEY` or `OPENAI_BASE_URL` is."""
    ai = settings.ai
    # Connecting and writing are bounded here; the wait for tokens by the use case.
    timeout = httpx.Timeout(
        ai.ai_connect_timeout_seconds,
        read=max(ai.ai_first_token_timeout_seconds, ai.ai_token_timeout_seconds),
    )
    providers: list[ChatProvider] = []
    if not ai.ollama_host and not ai.openai_enabled:
        # No client then: building one loads the CA bundle (~20 ms of every start-up).
        return ProviderChatModels(
            providers, ai.ai_models_cache_seconds, wait_seconds=ai.ai_models_wait_seconds
        )
    # Imported here: LangChain and the OpenAI SDK cost ~1 s of a process's start, which
    # processes without a provider (CLI, tests, an AI-less deployment) need not pay.
    from api.infrastructure.ai.ollama_provider import OllamaProvider
    from api.infrastructure.ai.openai_provider import OpenAIProvider

    listing = httpx.AsyncClient(timeout=httpx.Timeout(ai.ai_connect_timeout_seconds * 2))
    if ai.ollama_host:
        providers.append(
            OllamaProvider(listing, host=ai.ollama_host, only=ai.ollama_models, timeout=timeout)
        )
    if ai.openai_enabled:
        providers.append(
            OpenAIProvider(
                listing, api_key=ai.openai_api_key, base_url=ai.openai_base_url,
                only=ai.openai_models, timeout=timeout,
            )
        )  # fmt: skip
    return ProviderChatModels(
        providers, ai.ai_models_cache_seconds, closing=[listing],
        wait_seconds=ai.ai_models_wait_seconds,
    )  # fmt: skip


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    stops = RedisStopSignals(clients.redis)
    container.register(StopSignals, instance=stops)
    container.register(Listener, instance=stops)  # stop requests from any replica (API only)
    container.register(Closeable, instance=stops)
    models = chat_models(settings)
    container.register(ChatModels, instance=models)
    container.register(StructuredChatModels, instance=models)  # the same providers
    container.register(Closeable, instance=models)
    container.register(AiPolicy, instance=ai_policy(settings))
    container.register(AiConversationRepository, BeanieAiConversationRepository)
    container.register(AiMessageRepository, BeanieAiMessageRepository)
    container.register(UsageLedger, MongoUsageLedger)
    container.register(QuotaHolds, MongoQuotaHolds)
    container.register(AiTurns, MongoAiTurns)
    container.register(
        AiSettingsRepository,
        instance=CachingAiSettings(
            MongoAiSettingsRepository(), settings.ai.ai_settings_cache_seconds
        ),
    )
    container.register(AssistantRepository, BeanieAssistantRepository)
