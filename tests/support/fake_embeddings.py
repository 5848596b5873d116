"""The fake LLM server's embeddings routes, in the real wire formats (see `fake_llm`).

- Ollama `POST /api/embed` `{model, input: str | [str], truncate?, options?, keep_alive?,
  dimensions?}` -> `{model, embeddings: [[float]], total_duration, load_duration,
  prompt_eval_count}`; an unknown model is 404 `{"error": "model \\"x\\" not found, try
  pulling it first"}`.
- OpenAI `POST /v1/embeddings` `{model, input: str | [str] | [int] | [[int]],
  encoding_format?: "float" | "base64", dimensions?}` -> `{object: "list", data:
  [{object: "embedding", index, embedding}], model, usage: {prompt_tokens,
  total_tokens}}`; `base64` is the little-endian float32 bytes (what the OpenAI SDK asks
  for by default); an unknown model is 404 `model_not_found`; the API key is checked like
  the chat routes.

The vectors are deterministic hashed bags of words, L2-normalised: each lower-cased word
of three letters or more (`\\w+`) adds 1 at `blake2b(word) mod dimensions`. Texts sharing
words are near (cosine = their weighted word overlap), texts sharing none are orthogonal
but for hash collisions, so a test knows which chunk a question must retrieve. A text
with no such word gets a fixed unit vector of its own (the last dimension).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_llm import _ollama_error, _openai_error, _openai_unauthorized

if TYPE_CHECKING:
    from tests.support.fake_llm import FakeLLM

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The words a fake vector is made of: lower-cased, three letters or more."""
    return [word for word in _WORD.findall(text.lower()) if len(word) >= 3]


def fake_vector(text: str, dimensions: int) -> list[float]:
    """The deterministic, L2-normalised vector of `text` (hashed bag of words)."""
    vector = [0.0] * dimensions
    found = words(text)
    if not found:
        vector[-1] = 1.0
        return vector
    for word in found:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vector[int.from_bytes(digest, "big") % dimensions] += 1.0
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


def _texts(raw: Any) -> list[str] | None:
    """The inputs of a request as texts (token ids become words), None when malformed."""
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list):
        return None
    if all(isinstance(item, int) for item in raw):
        return [" ".join(f"tok{item}" for item in raw)]
    texts: list[str] = []
    for item in raw:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(token, int) for token in item):
            texts.append(" ".join(f"tok{token}" for token in item))
        else:
            return None
    return texts


def _dimensions(fake: FakeLLM, body: dict[str, Any]) -> int:
    asked = body.get("dimensions")
    return asked if isinstance(asked, int) and asked > 0 else fake.embedding_dimensions


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def ollama_embed(request: Request) -> Response:
    fake: FakeLLM = request.app.state.fake
    body = await _json(request)
    if body is None:
        return _ollama_error(400, "invalid request body")
    fake._record(request.url.path, body)
    if fake.embed_status is not None:
        return _ollama_error(fake.embed_status, f"fake LLM error (status {fake.embed_status})")
    model = str(body.get("model") or "")
    known = fake.ollama_embedding_models
    if model not in known and f"{model}:latest" not in known:
        return _ollama_error(404, f'model "{model}" not found, try pulling it first')
    texts = _texts(body.get("input", ""))
    if texts is None:
        return _ollama_error(400, "invalid input type")
    began = time.perf_counter_ns()
    dimensions = _dimensions(fake, body)
    embeddings = [fake_vector(text, dimensions) for text in texts]
    fake.embedded.append(texts)
    total = max(1, time.perf_counter_ns() - began)
    return JSONResponse(
        {
            "model": model,
            "embeddings": embeddings,
            "total_duration": total,
            "load_duration": total // 10,
            "prompt_eval_count": sum(max(1, len(text.split())) for text in texts),
        }
    )


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


async def openai_embeddings(request: Request) -> Response:
    fake: FakeLLM = request.app.state.fake
    body = await _json(request)
    if body is None:
        return _openai_error(400, "We could not parse the JSON body of your request.")
    fake._record(request.url.path, body)
    if (denied := _openai_unauthorized(fake, request)) is not None:
        return denied
    if fake.embed_status is not None:
        return _openai_error(fake.embed_status)
    model = str(body.get("model") or "")
    if model not in fake.openai_embedding_models:
        return _openai_error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    texts = _texts(body.get("input"))
    encoding = body.get("encoding_format", "float")
    if not texts or any(text == "" for text in texts) or encoding not in ("float", "base64"):
        return _openai_error(400, "'$.input' is invalid. Please check the API reference.")
    dimensions = _dimensions(fake, body)
    fake.embedded.append(texts)
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _encoded(fake_vector(text, dimensions), encoding),
        }
        for index, text in enumerate(texts)
    ]
    tokens = sum(max(1, len(text.split())) for text in texts)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def embedding_routes() -> list[Route]:
    return [
        Route("/api/embed", ollama_embed, methods=["POST"]),
        Route("/v1/embeddings", openai_embeddings, methods=["POST"]),
    ]


__all__ = ["embedding_routes", "fake_vector", "words"]
