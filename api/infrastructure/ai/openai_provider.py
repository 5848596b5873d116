"""OpenAI-compatible servers (OpenAI, vLLM, LM Studio, llama.cpp) through LangChain's
`ChatOpenAI`; models from the server's `GET /v1/models`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from api.domain.ai.errors import ModelNotFound, ProviderRejected
from api.domain.ai.values import ModelInfo, Provider
from api.infrastructure.ai.base import (
    REJECTING_STATUSES,
    STREAM_LIMITS,
    LangChainProvider,
    offered,
    unavailable,
)
from api.infrastructure.ai.transport import stream_transport


class OpenAIProvider(LangChainProvider):
    name = Provider.OPENAI

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: SecretStr | None,
        base_url: str | None,
        only: Sequence[str],
        timeout: httpx.Timeout,
    ) -> None:
        super().__init__(http)
        self._api_key = api_key
        self._base_url = (base_url or "https://api.openai.com/v1").rstrip("/")
        self._only = list(only)
        self._timeout = timeout
        # The SDK's own client, shared by every model: pooled connections, closed by us.
        self._sdk_http = httpx.AsyncClient(
            timeout=timeout,
            limits=STREAM_LIMITS,
            transport=stream_transport(limits=STREAM_LIMITS),  # the cheap idle check
        )

    def _headers(self) -> dict[str, str]:
        if self._api_key is None:
            return {}
        return {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}

    async def list_models(self) -> list[ModelInfo]:
        body = await self._get_json(f"{self._base_url}/models", self._headers())
        entries = body.get("data", []) if isinstance(body, dict) else []
        by_id = {entry.get("id"): entry for entry in entries if isinstance(entry, dict)}
        names = offered([n for n in by_id if isinstance(n, str)], self._only)
        return [
            ModelInfo(
                id=name,
                provider=self.name,
                details={k: by_id[name][k] for k in ("owned_by", "created") if k in by_id[name]},
            )
            for name in sorted(names)
        ]

    def _build(self, model: str) -> BaseChatModel:
        # A key is required by the SDK; local servers (vLLM, LM Studio, llama.cpp) ignore it.
        key = self._api_key or SecretStr("not-needed")
        return ChatOpenAI(
            model=model,
            base_url=self._base_url,
            api_key=key,
            stream_usage=True,
            max_retries=0,  # a retry would hold the caller's stream; the client may retry
            timeout=self._timeout,
            http_async_client=self._sdk_http,
        )

    def _limits(self, max_output_tokens: int) -> dict[str, Any]:
        return {"max_tokens": max_output_tokens}  # sent as `max_completion_tokens`

    def _tool_choice(self, name: str) -> dict[str, Any]:
        return {"tool_choice": name}  # {"type": "function", "function": {"name": name}}

    def _translate(self, exc: Exception, model: str) -> Exception | None:
        return openai_error(exc, model)

    async def close(self) -> None:
        self._chat_models.clear()
        await self._sdk_http.aclose()


def openai_error(exc: Exception, model: str) -> Exception | None:
    """The domain error for what the OpenAI SDK raised (None: not a provider error)."""
    name = Provider.OPENAI
    if isinstance(exc, openai.NotFoundError):
        return ModelNotFound(f"The OpenAI-compatible server has no model '{model}'.")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in REJECTING_STATUSES:
            return ProviderRejected(
                "openai provider",
                detail=f"openai refused the request ({exc.status_code}).",
            )
        return unavailable(name, f"the server answered {exc.status_code}")
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return unavailable(name, f"cannot reach the server ({type(exc).__name__})")
    if isinstance(exc, openai.APIError):  # an error reported inside the stream
        return unavailable(name, f"the model failed: {exc.message}")
    if isinstance(exc, httpx.HTTPError):
        return unavailable(name, f"the connection failed ({type(exc).__name__})")
    return None
