"""A fake LLM server speaking the real wire formats of Ollama and of the OpenAI chat API.

Tests run it in their own event loop with `serve_fake_llm(fake)` and drive the real
LangChain classes (`ChatOllama`, `ChatOpenAI`) against it; the benchmark runs it as a
separate process: `python -m tests.support.fake_llm --port 11500 --tokens 200`.

One server, both providers: Ollama at `/api/...` (`base_url=url` for `ChatOllama`), OpenAI
at `/v1/...` (`base_url=url + "/v1"` for `ChatOpenAI`).

- `GET /api/tags`, `POST /api/chat` (NDJSON lines; the last one has `"done": true` and the
  counts, or is `{"error": ...}` on a mid-stream failure; `"stream": false` answers one
  object). A model name without a tag means `:latest`, as in Ollama.
- `GET /v1/models`, `POST /v1/chat/completions` (server-sent events ending with
  `data: [DONE]`; a last chunk with `usage` and empty `choices` when the request asks
  `stream_options.include_usage`; without `"stream": true` one `chat.completion` object).
- Embeddings: Ollama's `POST /api/embed` and OpenAI's `POST /v1/embeddings` (float or
  base64 vectors), deterministic hashed bags of words (`tests/support/fake_embeddings.py`).

Tools: a chat request that offers `tools` is answered with a call of the first tool, in
each API's real shape (Ollama: `message.tool_calls[].function.arguments` as an object, in
a chunk before the `done` line when streamed; OpenAI: `choices[0].message.tool_calls[]`
with `arguments` as a JSON string and `finish_reason: "tool_calls"`). The arguments are
the next of `tool_answers` (scripted per test), else what `tool_answer(request body)`
answers, else `{"action": "reply", "text": <the model's tokens joined>}`; the reply is
paced like the model's tokens (the delays, `hold`), and counts them as its completion.

The prompt size reported (`prompt_eval_count`, `prompt_tokens`) is the number of
whitespace-separated words over the content of all request messages (at least 1); the
completion size is the number of tokens streamed.

`FakeLLM` is the state shared with the test: what each model answers, delays, failures,
and what the server saw (`requests`, `started`, `completed`, `cancelled`, `failed`), with
`await fake.wait_started()` / `wait_completed()` / `wait_cancelled()` to wait for them.

Good to know when driving it with LangChain: `ChatOpenAI` with a `base_url` asks for usage
only with `stream_usage=True`, and retries (2 by default) on 429/5xx and connection errors
unless `max_retries=0`; the usage arrives on one chunk near the end of the stream (both
adapters end with one more, empty chunk). A stream left open when `serve_fake_llm` exits
is cancelled after a second (uvicorn logs "Exception in ASGI application" for it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.util
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.support.asgi_server import serve_asgi

DEFAULT_TOKENS = ["Hello", ",", " world", "!"]
FAIL_MESSAGE = "fake LLM failure mid-stream"

# The error body OpenAI answers for a given status: (message, type, code).
_OPENAI_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to sample from this model.", "invalid_request_error", None),
    404: ("The requested resource does not exist.", "invalid_request_error", None),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


@dataclass
class FakeLLM:
    """What the fake answers, and what it saw. Mutate it freely between (or during) calls.

    Behaviour:
    - `ollama_models` / `openai_models`: model name -> the reply tokens it streams.
    - `first_token_delay`, `token_delay`: seconds slept before the first token and before
      each later one (0 = no sleep at all).
    - `fail_after`: after this many tokens (capped at the reply's length) the stream ends
      with the provider's mid-stream error instead of its normal end (`fail_message`).
      A non-streaming request answers 500 with the provider's error body instead.
    - `chat_status`: the chat routes answer this HTTP status with the provider's error body
      instead of a reply.
    - `api_key`: when set, the OpenAI routes require `Authorization: Bearer <api_key>`
      (else 401 with OpenAI's error body). The Ollama routes never check a key.
    - `hold` / `hold_after`: while `hold` is an unset `asyncio.Event`, a stream pauses before
      each token from index `hold_after` on (so `hold_after=1` lets exactly the first token
      through) until the test sets it. Lets a test keep a stream open mid-way for as long
      as it needs, deterministically.
    - `record_requests`: keep each chat request body in `requests` (off for benchmarks).
    - `ollama_embedding_models` / `openai_embedding_models`: the models `/api/embed` and
      `/v1/embeddings` answer for (not listed by `/api/tags`, `/v1/models`); their vectors
      are `embedding_dimensions` long and deterministic (see `fake_embeddings`).
    - `embed_status`: the embeddings routes answer this HTTP status with the provider's
      error body instead of vectors.

    Records (`reset()` clears them, not the behaviour):
    - `requests`: the JSON body of each chat request received (rejected ones too), with a
      `"path"` key added.
    - `started`: chat replies begun (streamed or not, after the model and key were checked).
    - `completed`: replies that went to their normal end (`done` line, `[DONE]`).
    - `failed`: replies that ended with the mid-stream error of `fail_after`.
    - `cancelled`: streams the client abandoned (closed the connection) before their end.
    - `embedded`: the texts of every embeddings request answered, in order of arrival.
    """

    ollama_models: dict[str, list[str]] = field(
        default_factory=lambda: {"llama3.2:latest": list(DEFAULT_TOKENS)}
    )
    openai_models: dict[str, list[str]] = field(
        default_factory=lambda: {"gpt-4o-mini": list(DEFAULT_TOKENS)}
    )
    token_delay: float = 0.0
    first_token_delay: float = 0.0
    fail_after: int | None = None
    fail_message: str = FAIL_MESSAGE
    chat_status: int | None = None
    api_key: str | None = None
    hold: asyncio.Event | None = None
    hold_after: int = 0
    record_requests: bool = True
    tool_answers: list[dict[str, Any]] = field(default_factory=list)
    tool_answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ollama_embedding_models: set[str] = field(default_factory=lambda: {"nomic-embed-text:latest"})
    openai_embedding_models: set[str] = field(default_factory=lambda: {"text-embedding-3-small"})
    embedding_dimensions: int = 256
    embed_status: int | None = None

    requests: list[dict[str, Any]] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)  # seconds per tool reply
    embedded: list[list[str]] = field(default_factory=list)
    started: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    _changed: asyncio.Event | None = field(default=None, init=False, repr=False, compare=False)

    def restore(self, *, api_key: str | None = None) -> FakeLLM:
        """Back to a new `FakeLLM`'s behaviour (then `api_key`), records forgotten: the same
        object, so that a server holding it can be shared by several tests."""
        new = FakeLLM()
        for spec in fields(FakeLLM):
            if spec.init:
                setattr(self, spec.name, getattr(new, spec.name))
        self.api_key = api_key
        self.reset()
        return self

    def reset(self) -> None:
        """Forget what was seen (the records), keeping the behaviour settings."""
        self.requests.clear()
        self.durations.clear()
        self.embedded.clear()
        self.started = self.completed = self.failed = self.cancelled = 0
        self._notify()

    async def wait_started(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until at least `count` replies have started; TimeoutError after `timeout` s."""
        await self._wait(lambda: self.started >= count, f"{count} started", timeout)

    async def wait_completed(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until at least `count` replies went to their end; TimeoutError after `timeout` s."""
        await self._wait(lambda: self.completed >= count, f"{count} completed", timeout)

    async def wait_cancelled(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until at least `count` streams were abandoned by their client; TimeoutError after
        `timeout` s."""
        await self._wait(lambda: self.cancelled >= count, f"{count} cancelled", timeout)

    # -- internals -------------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every waiter (they re-check their condition)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not done():
                    if self._changed is None:
                        self._changed = asyncio.Event()
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"fake LLM: not {what} after {timeout}s (started={self.started}, "
                f"completed={self.completed}, failed={self.failed}, "
                f"cancelled={self.cancelled})"
            ) from None

    def _count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self._notify()

    def _record(self, path: str, body: dict[str, Any]) -> None:
        if self.record_requests:
            self.requests.append({**body, "path": path})

    async def _before_token(self, index: int) -> None:
        delay = self.first_token_delay if index == 0 else self.token_delay
        if delay > 0:
            await asyncio.sleep(delay)
        hold = self.hold
        if hold is not None and index >= self.hold_after:
            await hold.wait()

    def _fail_at(self, tokens: list[str]) -> int | None:
        if self.fail_after is None:
            return None
        return max(0, min(self.fail_after, len(tokens)))

    async def _stream_reply(
        self,
        tokens: list[str],
        *,
        head: list[bytes],
        token: Callable[[str], bytes],
        tail: Callable[[int], list[bytes]],
        error: Callable[[], bytes],
    ) -> AsyncIterator[bytes]:
        """The body of a streamed reply: `head`, one item per token (paced by the delays and
        `hold`), then `tail(tokens sent)`, or `error()` once `fail_after` tokens are sent.

        Counts the reply started now and, whichever way the body ends, `completed`,
        `failed` or `cancelled` (the consumer went away before the last item was handed
        over).
        """
        self._count("started")
        outcome = "cancelled"
        try:
            for item in head:
                yield item
            fail_at = self._fail_at(tokens)
            sent = 0
            for index, text in enumerate(tokens):
                if index == fail_at:
                    break
                await self._before_token(index)
                yield token(text)
                sent += 1
            if fail_at is not None:
                outcome = "failed"
                yield error()
            else:
                *rest, last = tail(sent)
                for item in rest:
                    yield item
                outcome = "completed"
                yield last
        finally:
            self._count(outcome)

    async def _reply(self, tokens: list[str]) -> list[str] | None:
        """A reply not streamed: all its tokens, or None when it fails (`fail_after`)."""
        self._count("started")
        fail_at = self._fail_at(tokens)
        reply = []
        for index, text in enumerate(tokens):
            if index == fail_at:
                break
            await self._before_token(index)
            reply.append(text)
        if fail_at is not None:
            self._count("failed")
            return None
        self._count("completed")
        return reply

    async def _tool_reply(
        self, tokens: list[str], body: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        """A call of the request's first tool: its name and arguments (see the module's
        docstring), paced like `tokens`; None when it fails (`fail_after`)."""
        began = time.perf_counter()
        reply = await self._reply(tokens)
        if reply is None:
            return None
        tools = body.get("tools") or []
        first = tools[0] if isinstance(tools, list) and tools else {}
        name = str((first.get("function") or {}).get("name") or "answer")
        if self.tool_answers:
            arguments = self.tool_answers.pop(0)
        elif self.tool_answer is not None:
            arguments = self.tool_answer(body)
        else:
            arguments = {"action": "reply", "text": "".join(reply)}
        self.durations.append(time.perf_counter() - began)
        return name, arguments


def count_words(messages: Any) -> int:
    """Whitespace-separated words over the content of all messages (at least 1)."""
    words = 0
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            words += len(content.split())
        elif isinstance(content, list):  # OpenAI content parts
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    words += len(part["text"].split())
    return max(1, words)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _Stream(StreamingResponse):
    """A streaming response that notices the client going away, even while it waits.

    The body is streamed while the request's `receive` is watched for `http.disconnect`;
    whichever comes first cancels the other, and the body generator is always closed (so
    its `finally` runs now, not whenever it is garbage-collected).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


# -- Ollama --------------------------------------------------------------------------------


def _ollama_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ollama_lookup(fake: FakeLLM, name: str) -> list[str] | None:
    if name in fake.ollama_models:
        return fake.ollama_models[name]
    if ":" not in name:
        return fake.ollama_models.get(f"{name}:latest")
    return None


def _ollama_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def ollama_root(request: Request) -> Response:
    return PlainTextResponse("Ollama is running")


async def ollama_tags(request: Request) -> Response:
    fake: FakeLLM = request.app.state.fake
    models = []
    for name in fake.ollama_models:
        models.append(
            {
                "name": name,
                "model": name,
                "modified_at": "2025-01-01T00:00:00.000000000Z",
                "size": 2019393189,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "llama",
                    "families": ["llama"],
                    "parameter_size": "3.2B",
                    "quantization_level": "Q4_K_M",
                },
            }
        )
    return JSONResponse({"models": models})


async def ollama_chat(request: Request) -> Response:
    fake: FakeLLM = request.app.state.fake
    try:
        body = await request.json()
    except ValueError:
        return _ollama_error(400, "invalid character in request body")
    if not isinstance(body, dict):
        return _ollama_error(400, "invalid request body")
    fake._record(request.url.path, body)
    if fake.chat_status is not None:
        return _ollama_error(fake.chat_status, f"fake LLM error (status {fake.chat_status})")
    model = str(body.get("model") or "")
    if not model:
        return _ollama_error(400, "model is required")
    tokens = _ollama_lookup(fake, model)
    if tokens is None:
        return _ollama_error(404, f"model '{model}' not found")
    prompt_words = count_words(body.get("messages"))
    began = time.perf_counter_ns()

    def final(content: str, eval_count: int) -> dict[str, Any]:
        total = max(1, time.perf_counter_ns() - began)
        return {
            "model": model,
            "created_at": _ollama_now(),
            "message": {"role": "assistant", "content": content},
            "done": True,
            "done_reason": "stop",
            "total_duration": total,
            "load_duration": total // 100,
            "prompt_eval_count": prompt_words,
            "prompt_eval_duration": total // 10,
            "eval_count": eval_count,
            "eval_duration": total - total // 10 - total // 100,
        }

    if body.get("tools"):
        called = await fake._tool_reply(tokens, body)
        if called is None:
            return _ollama_error(500, fake.fail_message)
        name, arguments = called
        calls = [{"function": {"name": name, "arguments": arguments}}]
        if body.get("stream", True) is False:
            answer = final("", len(tokens))
            answer["message"]["tool_calls"] = calls
            return JSONResponse(answer)
        chunk = {"model": model, "created_at": _ollama_now(), "done": False,
                 "message": {"role": "assistant", "content": "", "tool_calls": calls}}  # fmt: skip
        return Response(
            _compact(chunk) + "\n" + _compact(final("", len(tokens))) + "\n",
            media_type="application/x-ndjson",
        )

    if body.get("stream", True) is False:
        reply = await fake._reply(tokens)
        if reply is None:
            return _ollama_error(500, fake.fail_message)
        return JSONResponse(final("".join(reply), len(reply)))

    def line(data: dict[str, Any]) -> bytes:
        return (_compact(data) + "\n").encode()

    def token_line(text: str) -> bytes:
        message = {"role": "assistant", "content": text}
        return line(
            {"model": model, "created_at": _ollama_now(), "message": message, "done": False}
        )

    lines = fake._stream_reply(
        tokens,
        head=[],
        token=token_line,
        tail=lambda sent: [line(final("", sent))],
        error=lambda: line({"error": fake.fail_message}),
    )
    return _Stream(lines, media_type="application/x-ndjson")


# -- OpenAI --------------------------------------------------------------------------------


def _openai_error(
    status: int, message: str | None = None, error_type: str | None = None, code: str | None = None
) -> JSONResponse:
    default_message, default_type, default_code = _OPENAI_ERRORS.get(
        status, ("The server had an error processing your request.", "server_error", None)
    )
    error = {
        "message": message or default_message,
        "type": error_type or default_type,
        "param": None,
        "code": code if code is not None else default_code,
    }
    return JSONResponse({"error": error}, status_code=status)


def _openai_unauthorized(fake: FakeLLM, request: Request) -> Response | None:
    if fake.api_key is None:
        return None
    given = request.headers.get("authorization", "")
    if given == f"Bearer {fake.api_key}":
        return None
    if not given:
        return _openai_error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            code="",
        )
    return _openai_error(401)


async def openai_models(request: Request) -> Response:
    fake: FakeLLM = request.app.state.fake
    if (denied := _openai_unauthorized(fake, request)) is not None:
        return denied
    data = [
        {"id": name, "object": "model", "created": 1700000000, "owned_by": "system"}
        for name in fake.openai_models
    ]
    return JSONResponse({"object": "list", "data": data})


async def openai_chat(request: Request) -> Response:
    fake: FakeLLM = request.app.state.fake
    try:
        body = await request.json()
    except ValueError:
        return _openai_error(400, "We could not parse the JSON body of your request.")
    if not isinstance(body, dict):
        return _openai_error(400, "We could not parse the JSON body of your request.")
    fake._record(request.url.path, body)
    if (denied := _openai_unauthorized(fake, request)) is not None:
        return denied
    if fake.chat_status is not None:
        return _openai_error(fake.chat_status)
    model = str(body.get("model") or "")
    tokens = fake.openai_models.get(model)
    if tokens is None:
        return _openai_error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    prompt_tokens = count_words(body.get("messages"))
    completion_id = "chatcmpl-" + secrets.token_urlsafe(22)[:29]
    created = int(time.time())

    def usage(completion_tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    if body.get("tools") and body.get("stream") is not True:
        called = await fake._tool_reply(tokens, body)
        if called is None:
            return _openai_error(500, fake.fail_message)
        name, arguments = called
        call = {
            "id": "call_" + secrets.token_urlsafe(18)[:24],
            "type": "function",
            "function": {"name": name, "arguments": _compact(arguments)},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call],
                   "refusal": None, "annotations": []}  # fmt: skip
        return JSONResponse(
            {
                "id": completion_id, "object": "chat.completion", "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls"}],
                "usage": usage(len(tokens)), "service_tier": "default",
                "system_fingerprint": None,
            }
        )  # fmt: skip

    if body.get("stream") is not True:
        reply = await fake._reply(tokens)
        if reply is None:
            return _openai_error(500, fake.fail_message)
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(reply),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage(len(reply)),
            "service_tier": "default",
            "system_fingerprint": None,
        }
        return JSONResponse(completion)

    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        data: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if include_usage:
            data["usage"] = None  # as OpenAI: null on every chunk but the last
        data.update(extra)
        return f"data: {_compact(data)}\n\n".encode()

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    def tail(sent: int) -> list[bytes]:
        items = [chunk([choice({}, "stop")])]
        if include_usage:
            items.append(chunk([], usage=usage(sent)))
        return [*items, b"data: [DONE]\n\n"]

    def error() -> bytes:
        failure = {"message": fake.fail_message, "type": "server_error", "param": None}
        return f"data: {_compact({'error': {**failure, 'code': None}})}\n\n".encode()

    events = fake._stream_reply(
        tokens,
        head=[chunk([choice({"role": "assistant", "content": "", "refusal": None})])],
        token=lambda text: chunk([choice({"content": text})]),
        tail=tail,
        error=error,
    )
    return _Stream(events, media_type="text/event-stream")


# -- the app and the servers ---------------------------------------------------------------


async def fake_durations(request: Request) -> Response:
    """The fake's own time per tool reply so far (ms), for benchmarks to set Parley's
    time against (not part of either provider's API)."""
    fake: FakeLLM = request.app.state.fake
    return JSONResponse({"durations_ms": [d * 1000 for d in fake.durations]})


def build_app(fake: FakeLLM) -> Starlette:
    """The ASGI app answering as Ollama (`/api/...`) and as OpenAI (`/v1/...`), and the
    fake's own `/_fake/durations`."""
    from tests.support.fake_embeddings import embedding_routes  # it uses this module's errors

    app = Starlette(
        routes=[
            Route("/_fake/durations", fake_durations, methods=["GET"]),
            Route("/", ollama_root, methods=["GET", "HEAD"]),
            Route("/api/tags", ollama_tags, methods=["GET"]),
            Route("/api/chat", ollama_chat, methods=["POST"]),
            Route("/v1/models", openai_models, methods=["GET"]),
            Route("/v1/chat/completions", openai_chat, methods=["POST"]),
            *embedding_routes(),
        ]
    )
    app.state.fake = fake
    return app


@contextlib.asynccontextmanager
async def serve_fake_llm(fake: FakeLLM) -> AsyncIterator[str]:
    """Serve `fake` on a free port of 127.0.0.1 in the current event loop.

    Yields the base URL (`http://127.0.0.1:PORT`, no trailing slash). On exit the server
    stops; streams still open after a second (a forgotten `hold`) are cancelled.
    """
    async with serve_asgi(build_app(fake), graceful_seconds=1) as url:
        yield url


@contextlib.contextmanager
def serve_fake_llm_in_thread(fake: FakeLLM) -> Iterator[str]:
    """Serve `fake` from a thread of its own (its own event loop) on a free port, for
    other processes (the session's Celery worker) to call whatever the test's loop does.
    Yields the base URL. Mutate `fake` from the test freely (lists, fields); do not use
    its `wait_*` helpers across the two loops: poll instead."""
    started = threading.Event()
    urls: list[str] = []
    stop: list[asyncio.Future[None]] = []

    async def run() -> None:
        async with serve_fake_llm(fake) as url:
            urls.append(url)
            stop.append(asyncio.get_running_loop().create_future())
            started.set()
            await stop[0]

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the fake LLM did not start")
    try:
        yield urls[0]
    finally:
        loop.call_soon_threadsafe(stop[0].set_result, None)
        thread.join(10)


# -- the command line (benchmarks) ---------------------------------------------------------


def _bench_fake(tokens: int, token_text: str, token_delay: float) -> FakeLLM:
    reply = [token_text] * tokens
    return FakeLLM(
        # `bench-short`: one token, for what a call costs apart from its tokens.
        ollama_models={"bench:latest": reply, "bench-short:latest": [token_text]},
        openai_models={"bench-model": list(reply)},
        token_delay=token_delay,
        record_requests=False,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fake_llm",
        description="A fake Ollama + OpenAI server: model 'bench:latest' (Ollama) and "
        "'bench-model' (OpenAI) stream N tokens as fast as possible.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=200, help="tokens per reply")
    parser.add_argument("--token-text", default=" tok", help="the text of each token")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds per token")
    args = parser.parse_args(argv)
    fake = _bench_fake(args.tokens, args.token_text, args.token_delay)
    uvicorn.run(
        build_app(fake),
        host=args.host,
        port=args.port,
        loop="uvloop" if _installed("uvloop") else "asyncio",
        http="httptools" if _installed("httptools") else "h11",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


__all__ = [
    "DEFAULT_TOKENS",
    "FAIL_MESSAGE",
    "FakeLLM",
    "build_app",
    "count_words",
    "main",
    "serve_fake_llm",
    "serve_fake_llm_in_thread",
]

if __name__ == "__main__":
    main()
