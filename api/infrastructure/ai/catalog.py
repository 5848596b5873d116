"""Every configured provider behind the `ChatModels` port, with a short model-list cache.

The list is read from the providers (never from a static list) and kept for
`AI_MODELS_CACHE_SECONDS`; concurrent readers share one refresh. A provider that is down
is left out of the list (and logged) while the others answer; when every provider is
down the last good list is served for a while, else `ProviderUnavailable`. A model name
offered by two providers is served by the first configured one (Ollama).

A refresh waits for the providers' lists at most `AI_MODELS_WAIT_SECONDS` (unless none
has answered yet and none was ever listed): a provider slower than that (one that hangs
until its timeout) counts with its last good list, and its listing goes on for the next
refresh to take. So a hung provider never holds up the chats that use the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING

import httpx

from api.domain.ai.errors import ProviderUnavailable
from api.domain.ai.values import (
    ChatDelta,
    ModelInfo,
    PromptMessage,
    Provider,
    ToolCall,
    ToolSpec,
)

if TYPE_CHECKING:  # the providers import LangChain (~1 s): only processes with one pay it
    from api.infrastructure.ai.base import ChatProvider

log = logging.getLogger(__name__)


def _retrieved(task: asyncio.Task[list[ModelInfo]]) -> None:
    """A listing nobody waits for any more failed: its error is logged by the refresh that
    takes it, not as an error never retrieved."""
    if not task.cancelled():
        task.exception()


STALE_GRACE_SECONDS = 300.0  # how long a last good list may stand in while all are down
RETRY_SECONDS = 5.0  # meanwhile, how often the providers are asked again


class ProviderChatModels:
    def __init__(
        self,
        providers: Sequence[ChatProvider],
        cache_seconds: float,
        *,
        closing: Sequence[httpx.AsyncClient] = (),
        wait_seconds: float = 2.0,
    ) -> None:
        self._providers = {provider.name: provider for provider in providers}
        self._wait_seconds = wait_seconds
        self._lists: dict[Provider, tuple[list[ModelInfo], float]] = {}  # last good, when
        self._listing: dict[Provider, asyncio.Task[list[ModelInfo]]] = {}
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
        # A listing still under way from an earlier refresh (a slow provider) is not
        # waited for again; new ones for at most `wait_seconds`.
        started = [name for name in self._providers if name not in self._listing]
        tasks = {name: self._listing_of(name) for name in self._providers}
        if started:
            await asyncio.wait([tasks[name] for name in started], timeout=self._wait_seconds)
        if not self._lists and not any(task.done() for task in tasks.values()):
            # Nothing to go on yet: wait for the first provider to answer.
            await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        now = time.monotonic()
        models: dict[str, ModelInfo] = {}
        failures: list[BaseException] = []
        for name, task in tasks.items():
            if task.done():
                del self._listing[name]
                error = task.exception()
                if error is None:
                    self._lists[name] = (task.result(), now)
                else:
                    log.warning("listing the %s models failed: %s", name.value, error)
                    failures.append(error)
                    self._lists.pop(name, None)
            known = self._lists.get(name)
            if known is None or now - known[1] > STALE_GRACE_SECONDS:
                if not task.done():
                    failures.append(ProviderUnavailable("AI provider"))
                continue
            for model in known[0]:
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

    def _listing_of(self, name: Provider) -> asyncio.Task[list[ModelInfo]]:
        """The provider's listing under way (a slow one, from an earlier refresh) or done
        and not yet taken, else a new one."""
        task = self._listing.get(name)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._providers[name].list_models())
            task.add_done_callback(_retrieved)
            self._listing[name] = task
        return task

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
        for task in self._listing.values():
            task.cancel()
        for provider in self._providers.values():
            await provider.close()
        for client in self._closing:
            await client.aclose()
