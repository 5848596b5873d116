"""Ollama through LangChain's `ChatOllama`; models from the server's `GET /api/tags`."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import httpx
import ollama
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_ollama import ChatOllama

from api.domain.ai.errors import ModelNotFound, ProviderRejected
from api.domain.ai.values import ModelInfo, Provider
from api.infrastructure.ai.base import REJECTING_STATUSES, LangChainProvider, offered, unavailable
from api.infrastructure.ai.transport import stream_transport

# As many connections as there are streams: with httpx's default (100) the 101st concurrent
# stream to one model waited for a connection, then failed with PoolTimeout. Idle ones are
# kept as httpx keeps them (20, for 5 s): httpcore's pool looks at every idle connection
# whenever a request starts or ends, so keeping more costs each request.
OLLAMA_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=20)


class OllamaProvider(LangChainProvider):
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
        names = offered([n for n in by_name if isinstance(n, str)], self._only)
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
        # The async client (the one that streams) gets the transport with the cheap idle
        # check (see `transport`; None where the environment names a proxy: httpx then
        # builds its own with these limits); the sync one, never used, stays httpx's own.
        transport = stream_transport(verify=self._tls, limits=OLLAMA_LIMITS)
        return ChatOllama(
            model=model,
            base_url=self._host,
            client_kwargs={"timeout": self._timeout, "verify": self._tls},
            async_client_kwargs={"limits": OLLAMA_LIMITS, "transport": transport},
        )

    def _limits(self, max_output_tokens: int) -> dict[str, Any]:
        return {"options": {"num_predict": max_output_tokens}}

    def _translate(self, exc: Exception, model: str) -> Exception | None:
        return ollama_error(exc, model)


def ollama_error(exc: Exception, model: str) -> Exception | None:
    """The domain error for what the Ollama client raised (None: not a provider error)."""
    if isinstance(exc, ollama.ResponseError):
        if exc.status_code == 404:
            return ModelNotFound(f"The Ollama server has no model '{model}'.")
        if exc.status_code in REJECTING_STATUSES:
            return ProviderRejected(
                "ollama provider", detail=f"ollama refused the request: {exc.error}"
            )
        return unavailable(Provider.OLLAMA, f"the model failed: {exc.error}")
    if isinstance(exc, ConnectionError | httpx.HTTPError):
        return unavailable(Provider.OLLAMA, f"cannot reach the server ({type(exc).__name__})")
    return None
