"""Every configured provider behind the `ChatModels` port, with a short model-list cache.

The list is read from the providers (never from a static list) and kept for
`AI_MODELS_CACHE_SECONDS`; concurrent readers share one refresh. A provider that is down
is left out of the list (and logged) while the others answer; when every provider is
down the last good list is served for a while, else `ProviderUnavailable`. A model name
offered by two providers is served by the first configured one (Ollama).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING

import httpx

from api.domain.ai.errors import ProviderUnavailable
from api.domain.ai.values import ChatDelta, ModelInfo, PromptMessage, ToolCall, ToolSpec

if TYPE_CHECKING:  # the providers import LangChain (~1 s): only processes with one pay it
    from api.infrastructure.ai.base import ChatProvider

log = logging.getLogger(__name__)

STALE_GRACE_SECONDS = 300.0  # how long a last good list may stand in while all are down
RETRY_SECONDS = 5.0  # meanwhile, how often the providers are asked again


class ProviderChatModels:
    def __init__(
        self,
        providers: Sequence[ChatProvider],
        cache_seconds: float,
        *,
        closing: Sequence[httpx.AsyncClient] = (),
    ) -> None:
        self._providers = {provider.name: provider for provider in providers}
        self._closing = list(closing)
        self._cache_seconds = cache_seconds
        self._models: list[ModelInfo] = []
        self._fetched_at = float("-inf")
        self._good_at = float("-inf")
        self._refreshing: asyncio.Task[list[ModelInfo]] | None = None

    async def list_models(self) -> list[ModelInfo]:
        if time.monotonic() - self._fetched_at < self._cache_seconds:
            return self._models
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
        return await asyncio.shield(self._refreshing)

    async def _refresh(self) -> list[ModelInfo]:
        if not self._providers:
            raise ProviderUnavailable(
                "AI provider", detail="No AI provider is configured (OLLAMA_HOST, OPENAI_API_KEY)."
            )
        results = await asyncio.gather(
            *(provider.list_models() for provider in self._providers.values()),
            return_exceptions=True,
        )
        models: dict[str, ModelInfo] = {}
        failures: list[BaseException] = []
        for provider, result in zip(self._providers.values(), results, strict=True):
            if isinstance(result, BaseException):
                log.warning("listing the %s models failed: %s", provider.name.value, result)
                failures.append(result)
                continue
            for model in result:
                models.setdefault(model.id, model)
        now = time.monotonic()
        if len(failures) == len(self._providers):
            if self._models and now - self._good_at < STALE_GRACE_SECONDS:
                self._fetched_at = now - self._cache_seconds + RETRY_SECONDS
                return self._models
            error = failures[0]
            raise (
                error
                if isinstance(error, ProviderUnavailable)
                else ProviderUnavailable("AI provider")
            )
        self._models = list(models.values())
        self._fetched_at = self._good_at = now
        return self._models

    def forget(self) -> None:
        """Drop the cached list (tests; an operator after adding a model)."""
        self._fetched_at = float("-inf")

    def stream(
        self,
        model: ModelInfo,
        messages: Sequence[PromptMessage],
        *,
        max_output_tokens: int | None = None,
    ) -> AsyncGenerator[ChatDelta, None]:
        return self._provider(model).stream(model.id, messages, max_output_tokens=max_output_tokens)

    async def call_tool(
        self,
        model: ModelInfo,
        messages: Sequence[PromptMessage],
        tool: ToolSpec,
        *,
        max_output_tokens: int | None = None,
    ) -> ToolCall:
        return await self._provider(model).call_tool(
            model.id, messages, tool, max_output_tokens=max_output_tokens
        )

    def _provider(self, model: ModelInfo) -> ChatProvider:
        provider = self._providers.get(model.provider)
        if provider is None:
            raise ProviderUnavailable(
                "AI provider", detail=f"The {model.provider.value} provider is not configured."
            )
        return provider

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()
        for client in self._closing:
            await client.aclose()
