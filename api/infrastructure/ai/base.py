"""What the LangChain providers share: message conversion, the model cache, streaming with
one retry on a stale pooled connection, and the translation of errors.

Each provider lists its models from the server itself (`GET /api/tags`, `GET /v1/models`)
over a shared `httpx.AsyncClient`, and streams replies through LangChain's
`ChatOllama` / `ChatOpenAI` (one instance per model, reused, so connections are pooled):
the model's own chunk stream (`model_chunks`), without `.astream()`'s callback layer,
which Parley gives no callbacks. Provider and SDK errors become the domain's
`ModelNotFound`, `ProviderRejected` or `ProviderUnavailable`; their text names no secret
(the API key is only ever a header).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Protocol, cast

import httpx
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk

from api.domain.ai.errors import ProviderRejected, ProviderUnavailable
from api.domain.ai.values import (
    ChatDelta,
    FinishReason,
    ModelInfo,
    PromptMessage,
    Provider,
    Speaker,
    TokenUsage,
    ToolCall,
    ToolSpec,
    estimate_tokens,
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
STALE_CONNECTION = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)
REJECTING_STATUSES = frozenset({400, 401, 403, 409, 413, 422, 429})


def to_langchain(messages: Sequence[PromptMessage]) -> list[BaseMessage]:
    return [_LANGCHAIN_MESSAGE[m.role](content=m.content) for m in messages]


def model_chunks(
    chat: BaseChatModel, prompt: list[BaseMessage], options: dict[str, Any]
) -> AsyncGenerator[ChatGenerationChunk, None]:
    """The reply of `chat` to `prompt`, chunk by chunk, as the model integration streams it.

    This is what `BaseChatModel.astream()` iterates (`_astream`, the method LangChain's
    chat model integrations implement), without what `astream()` adds around it for its
    callbacks and tracers: a run and its callback managers per request, a callback event
    per token, every chunk kept until the end and merged into one message for the run's
    end event. Parley registers no LangChain callback, so that work bought nothing:
    2.2-2.4 ms of CPU per 200-token reply, a quarter of what LangChain costs by itself
    (bench/README.md, "AI streaming, seventh pass"). Streamed replies are thus not traced
    by LangSmith where its environment variables are set (tool calls, through `ainvoke`,
    still are). The chunks are those whose messages `astream()` yields; `to_delta` reads
    the generation's metadata as `astream()` merges it into the message's."""
    return cast(
        "AsyncGenerator[ChatGenerationChunk, None]",
        chat._astream(prompt, **options),
    )


def to_delta(chunk: ChatGenerationChunk) -> ChatDelta:
    message = chunk.message
    content = message.content if isinstance(message.content, str) else message.text
    usage = getattr(message, "usage_metadata", None)
    info = chunk.generation_info
    meta = message.response_metadata
    if not usage and not info and not meta:  # a token's chunk: text only
        return ChatDelta(content)
    if info:  # as `astream()` merges it into the message (the message's keys win)
        meta = {**info, **meta}
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


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def tool_call_of(
    answer: BaseMessage, tool: ToolSpec, provider: Provider, prompt_chars: int
) -> ToolCall:
    """The arguments of the model's call of `tool` (or of the JSON object it wrote as its
    text instead), and the tokens used (estimated when the provider reported none)."""
    arguments: dict[str, Any] | None = None
    for call in getattr(answer, "tool_calls", None) or []:
        if call.get("name") == tool.name and isinstance(call.get("args"), dict):
            arguments = call["args"]
            break
    text = answer.content if isinstance(answer.content, str) else answer.text
    if arguments is None:
        try:
            parsed = json.loads(_FENCE.sub("", text.strip()))
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            arguments = parsed
    if arguments is None:
        raise ProviderRejected(
            f"{provider.value} provider",
            detail=f"{provider.value}: the model answered without calling '{tool.name}'.",
        )
    usage = getattr(answer, "usage_metadata", None)
    return ToolCall(
        arguments=arguments,
        usage=(
            TokenUsage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"])
            if usage
            else TokenUsage(
                input_tokens=max(1, prompt_chars // 4),
                output_tokens=estimate_tokens(text or json.dumps(arguments)),
                estimated=True,
            )
        ),
    )


def unavailable(provider: Provider, reason: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"{provider.value} provider", detail=f"{provider.value}: {reason}")


class ChatProvider(Protocol):
    """One provider as the catalog (`ProviderChatModels`) sees it: its models, a stream
    from one of them, and the connections to close at shutdown."""

    name: Provider

    async def list_models(self) -> list[ModelInfo]: ...

    def stream(
        self, model: str, messages: Sequence[PromptMessage], *, max_output_tokens: int | None
    ) -> AsyncGenerator[ChatDelta, None]: ...

    async def call_tool(
        self,
        model: str,
        messages: Sequence[PromptMessage],
        tool: ToolSpec,
        *,
        max_output_tokens: int | None,
    ) -> ToolCall: ...

    async def close(self) -> None: ...


def offered(names: list[str], only: Sequence[str]) -> set[str]:
    """The models a server has, narrowed to the configured `only` when it names some."""
    return set(names) & set(only) if only else set(names)


class LangChainProvider:
    """What both providers share: the model cache, streaming and error translation."""

    name: Provider

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._chat_models: dict[str, BaseChatModel] = {}

    def _build(self, model: str) -> BaseChatModel:
        raise NotImplementedError

    def _translate(self, exc: Exception, model: str) -> Exception | None:
        raise NotImplementedError

    def _limits(self, max_output_tokens: int) -> dict[str, Any]:
        """The call options that cap the reply at `max_output_tokens`."""
        raise NotImplementedError

    def chat_model(self, model: str) -> BaseChatModel:
        chat = self._chat_models.get(model)
        if chat is None:
            chat = self._chat_models[model] = self._build(model)
        return chat

    async def stream(
        self, model: str, messages: Sequence[PromptMessage], *, max_output_tokens: int | None
    ) -> AsyncGenerator[ChatDelta, None]:
        prompt = to_langchain(messages)
        options = self._limits(max_output_tokens) if max_output_tokens is not None else {}
        for attempt in (1, 2):
            chunks = model_chunks(self.chat_model(model), prompt, options)
            started = False
            try:
                async for chunk in chunks:
                    started = True
                    yield to_delta(chunk)
                return
            except Exception as exc:
                if attempt == 1 and not started and isinstance(exc, STALE_CONNECTION):
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

    def _tool_choice(self, name: str) -> dict[str, Any]:
        """The options that make the model call the tool `name` (where the API has any)."""
        return {}

    async def call_tool(
        self,
        model: str,
        messages: Sequence[PromptMessage],
        tool: ToolSpec,
        *,
        max_output_tokens: int | None,
    ) -> ToolCall:
        prompt = to_langchain(messages)
        options = self._limits(max_output_tokens) if max_output_tokens is not None else {}
        function = {
            "type": "function",
            "function": {
                "name": tool.name, "description": tool.description, "parameters": tool.parameters,
            },
        }  # fmt: skip
        bound = self.chat_model(model).bind_tools([function], **self._tool_choice(tool.name))
        for attempt in (1, 2):
            try:
                answer = await bound.ainvoke(prompt, **options)
                break
            except Exception as exc:
                if attempt == 1 and isinstance(exc, STALE_CONNECTION):
                    log.info("retrying a %s request on a fresh connection", self.name.value)
                    continue
                translated = self._translate(exc, model)
                if translated is None:
                    raise
                raise translated from exc
        return tool_call_of(answer, tool, self.name, sum(len(m.content) for m in messages))

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
