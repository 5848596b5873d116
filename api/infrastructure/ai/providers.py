"""LangChain chat models for Ollama and OpenAI-compatible servers, streamed with `.astream()`.

Each provider lists its models from the server itself (`GET /api/tags`, `GET /v1/models`)
over a shared `httpx.AsyncClient`, and streams replies through LangChain's
`ChatOllama` / `ChatOpenAI` (one instance per model, reused, so connections are pooled).
Provider and SDK errors become the domain's `ModelNotFound`, `ProviderRejected` or
`ProviderUnavailable`; their text names no secret (the API key is only ever a header).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Protocol, cast

import httpx
import ollama
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    BaseMessageChunk,
    HumanMessage,
    SystemMessage,
)
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from api.domain.ai.errors import ModelNotFound, ProviderRejected, ProviderUnavailable
from api.domain.ai.values import (
    ChatDelta,
    FinishReason,
    ModelInfo,
    PromptMessage,
    Provider,
    Speaker,
    TokenUsage,
)

log = logging.getLogger(__name__)

_LANGCHAIN_MESSAGE: dict[Speaker, type[BaseMessage]] = {
    Speaker.SYSTEM: SystemMessage,
    Speaker.USER: HumanMessage,
    Speaker.ASSISTANT: AIMessage,
}
_FINISH = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH}
# One connection per running stream, as many as there are streams (httpx's default of
# 100 made the 101st concurrent stream wait, then fail with PoolTimeout). Idle ones are
# dropped after 2 s: servers close theirs after 5 (uvicorn, many proxies), and a request
# sent on a connection the server is closing fails (ReadError) before any token.
STREAM_LIMITS = httpx.Limits(
    max_connections=None, max_keepalive_connections=64, keepalive_expiry=2.0
)
# What a request sent on a connection the server just closed fails with, before any byte
# of an answer (the OpenAI SDK's wrapper of these is excluded: it also covers timeouts).
_STALE_CONNECTION = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)
_REJECTING_STATUSES = frozenset({400, 401, 403, 409, 413, 422, 429})


def to_langchain(messages: Sequence[PromptMessage]) -> list[BaseMessage]:
    return [_LANGCHAIN_MESSAGE[m.role](content=m.content) for m in messages]


def to_delta(chunk: BaseMessageChunk) -> ChatDelta:
    content = chunk.content if isinstance(chunk.content, str) else chunk.text
    usage = getattr(chunk, "usage_metadata", None)
    meta = chunk.response_metadata or {}
    reason = meta.get("finish_reason") or meta.get("done_reason")
    return ChatDelta(
        content=content,
        usage=(
            TokenUsage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"])
            if usage
            else None
        ),
        finish_reason=_FINISH.get(reason) if isinstance(reason, str) else None,
    )


def unavailable(provider: Provider, reason: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"{provider.value} provider", detail=f"{provider.value}: {reason}")


class ChatProvider(Protocol):
    name: Provider

    async def list_models(self) -> list[ModelInfo]: ...

    def stream(
        self, model: str, messages: Sequence[PromptMessage]
    ) -> AsyncGenerator[ChatDelta, None]: ...

    async def close(self) -> None: ...


def _offered(names: list[str], only: Sequence[str]) -> set[str]:
    return set(names) & set(only) if only else set(names)


class _LangChainProvider:
    """What both providers share: the model cache, streaming and error translation."""

    name: Provider

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._chat_models: dict[str, BaseChatModel] = {}

    def _build(self, model: str) -> BaseChatModel:
        raise NotImplementedError

    def _translate(self, exc: Exception, model: str) -> Exception | None:
        raise NotImplementedError

    def chat_model(self, model: str) -> BaseChatModel:
        chat = self._chat_models.get(model)
        if chat is None:
            chat = self._chat_models[model] = self._build(model)
        return chat

    async def stream(
        self, model: str, messages: Sequence[PromptMessage]
    ) -> AsyncGenerator[ChatDelta, None]:
        prompt = to_langchain(messages)
        for attempt in (1, 2):
            chunks = cast(
                "AsyncGenerator[BaseMessageChunk, None]", self.chat_model(model).astream(prompt)
            )
            started = False
            try:
                async for chunk in chunks:
                    started = True
                    yield to_delta(chunk)
                return
            except Exception as exc:
                if attempt == 1 and not started and isinstance(exc, _STALE_CONNECTION):
                    # The request went out on a pooled connection the server was closing:
                    # it never reached the model, so sending it once more is safe.
                    log.info("retrying a %s request on a fresh connection", self.name.value)
                    continue
                translated = self._translate(exc, model)
                if translated is None:
                    raise
                raise translated from exc
            finally:
                await chunks.aclose()  # closes the upstream response, also when cancelled

    async def _get_json(self, url: str, headers: dict[str, str] | None = None) -> Any:
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise unavailable(self.name, f"cannot list models ({type(exc).__name__})") from exc
        if response.status_code in (401, 403):
            raise ProviderRejected(
                f"{self.name.value} provider",
                detail=f"{self.name.value}: credentials refused ({response.status_code}).",
            )
        if response.status_code >= 400:
            raise unavailable(self.name, f"listing models answered {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise unavailable(
                self.name, "listing models answered something else than JSON"
            ) from exc

    async def close(self) -> None:
        for chat in self._chat_models.values():
            client = getattr(chat, "_async_client", None)
            inner = getattr(client, "_client", None)
            if isinstance(inner, httpx.AsyncClient):
                await inner.aclose()
        self._chat_models.clear()


class OllamaProvider(_LangChainProvider):
    name = Provider.OLLAMA

    def __init__(
        self, http: httpx.AsyncClient, *, host: str, only: Sequence[str], timeout: httpx.Timeout
    ) -> None:
        super().__init__(http)
        self._host = host.rstrip("/")
        self._only = list(only)
        self._timeout = timeout
        # ChatOllama builds two httpx clients per model, each loading the CA bundle (~20 ms
        # on the event loop) unless given a context: load it once, here, at start-up.
        self._tls = ssl.create_default_context()

    async def list_models(self) -> list[ModelInfo]:
        body = await self._get_json(f"{self._host}/api/tags")
        entries = body.get("models", []) if isinstance(body, dict) else []
        by_name = {entry.get("name") or entry.get("model"): entry for entry in entries}
        names = _offered([n for n in by_name if isinstance(n, str)], self._only)
        return [
            ModelInfo(
                id=name,
                provider=self.name,
                details={
                    key: by_name[name][key]
                    for key in ("size", "modified_at", "details")
                    if key in by_name[name]
                },
            )
            for name in sorted(names)
        ]

    def _build(self, model: str) -> BaseChatModel:
        return ChatOllama(
            model=model, base_url=self._host, client_kwargs={"timeout": self._timeout}
        )

    def _translate(self, exc: Exception, model: str) -> Exception | None:
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                return ModelNotFound(f"The Ollama server has no model '{model}'.")
            if exc.status_code in _REJECTING_STATUSES:
                return ProviderRejected(
                    "ollama provider", detail=f"ollama refused the request: {exc.error}"
                )
            return unavailable(self.name, f"the model failed: {exc.error}")
        if isinstance(exc, ConnectionError | httpx.HTTPError):
            return unavailable(self.name, f"cannot reach the server ({type(exc).__name__})")
        return None


class OpenAIProvider(_LangChainProvider):
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
        self._sdk_http = httpx.AsyncClient(timeout=timeout, limits=STREAM_LIMITS)

    def _headers(self) -> dict[str, str]:
        if self._api_key is None:
            return {}
        return {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}

    async def list_models(self) -> list[ModelInfo]:
        body = await self._get_json(f"{self._base_url}/models", self._headers())
        entries = body.get("data", []) if isinstance(body, dict) else []
        by_id = {entry.get("id"): entry for entry in entries if isinstance(entry, dict)}
        names = _offered([n for n in by_id if isinstance(n, str)], self._only)
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

    def _translate(self, exc: Exception, model: str) -> Exception | None:
        if isinstance(exc, openai.NotFoundError):
            return ModelNotFound(f"The OpenAI-compatible server has no model '{model}'.")
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code in _REJECTING_STATUSES:
                return ProviderRejected(
                    "openai provider",
                    detail=f"openai refused the request ({exc.status_code}).",
                )
            return unavailable(self.name, f"the server answered {exc.status_code}")
        if isinstance(exc, openai.APIConnectionError):  # timeouts included
            return unavailable(self.name, f"cannot reach the server ({type(exc).__name__})")
        if isinstance(exc, openai.APIError):  # an error reported inside the stream
            return unavailable(self.name, f"the model failed: {exc.message}")
        if isinstance(exc, httpx.HTTPError):
            return unavailable(self.name, f"the connection failed ({type(exc).__name__})")
        return None

    async def close(self) -> None:
        self._chat_models.clear()
        await self._sdk_http.aclose()
