"""The per-token path's shortcuts give what the general path gives: a model's chunk as a
delta (`to_delta`) and an event as SSE bytes (`encode`)."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from api.domain.ai.errors import ProviderUnavailable
from api.domain.ai.values import ChatDelta, FinishReason, ModelInfo, Provider, TokenUsage
from api.infrastructure.ai.base import to_delta
from api.interfaces.http.routers.ai.sse import encode, sse
from api.usecases.ai.events import Failed, Finished, KeepAlive, Started, Token


@pytest.mark.parametrize(
    ("chunk", "delta"),
    [
        (AIMessageChunk(content="Hello"), ChatDelta(content="Hello")),
        (AIMessageChunk(content=""), ChatDelta()),
        (
            AIMessageChunk(
                content=[{"type": "text", "text": "from"}, {"type": "text", "text": " parts"}]
            ),
            ChatDelta(content="from parts"),
        ),
        (
            AIMessageChunk(content="", response_metadata={"done_reason": "stop"}),
            ChatDelta(finish_reason=FinishReason.STOP),
        ),
        (
            AIMessageChunk(content="cut", response_metadata={"finish_reason": "length"}),
            ChatDelta(content="cut", finish_reason=FinishReason.LENGTH),
        ),
        (
            AIMessageChunk(
                content="",
                usage_metadata={"input_tokens": 7, "output_tokens": 4, "total_tokens": 11},
            ),
            ChatDelta(usage=TokenUsage(input_tokens=7, output_tokens=4)),
        ),
        (
            AIMessageChunk(content="x", response_metadata={"model": "llama3.2"}),
            ChatDelta(content="x"),
        ),
    ],
)
def test_a_chunk_becomes_its_delta(chunk: AIMessageChunk, delta: ChatDelta) -> None:
    assert to_delta(ChatGenerationChunk(message=chunk)) == delta


@pytest.mark.parametrize(
    ("chunk", "delta"),
    [
        (  # Ollama's last chunk: the reason and the counts in the generation's metadata
            ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    usage_metadata={"input_tokens": 3, "output_tokens": 9, "total_tokens": 12},
                ),
                generation_info={"done": True, "done_reason": "length", "eval_count": 9},
            ),
            ChatDelta(
                usage=TokenUsage(input_tokens=3, output_tokens=9), finish_reason=FinishReason.LENGTH
            ),
        ),
        (  # OpenAI's: `finish_reason` in the generation's metadata
            ChatGenerationChunk(
                message=AIMessageChunk(content="end"),
                generation_info={"finish_reason": "stop", "model_name": "gpt-4o-mini"},
            ),
            ChatDelta(content="end", finish_reason=FinishReason.STOP),
        ),
        (  # a token with log-probabilities: only its text
            ChatGenerationChunk(
                message=AIMessageChunk(content="hi"), generation_info={"logprobs": [-0.1]}
            ),
            ChatDelta(content="hi"),
        ),
        (  # where both say, the message's metadata wins, as `astream()` merges them
            ChatGenerationChunk(
                message=AIMessageChunk(content="", response_metadata={"done_reason": "stop"}),
                generation_info={"done_reason": "length"},
            ),
            ChatDelta(finish_reason=FinishReason.STOP),
        ),
    ],
)
def test_the_generations_metadata_counts_as_astream_merges_it(
    chunk: ChatGenerationChunk, delta: ChatDelta
) -> None:
    assert to_delta(chunk) == delta


@pytest.mark.parametrize("content", ["Hello", "", 'quote " and \\', "é\u2028\n", "😀"])
def test_a_token_event_is_the_general_encoding(content: str) -> None:
    assert encode(Token(content)) == sse("token", {"content": content})
    assert json.loads(encode(Token(content)).split(b"data: ")[1]) == {"content": content}


def test_other_events_keep_their_encoding() -> None:
    model = ModelInfo(id="llama3.2", provider=Provider.OLLAMA)
    assert encode(Started("c", "m", "u", model)).startswith(b"event: meta\ndata: ")
    done = Finished("m", TokenUsage(input_tokens=1, output_tokens=2), False, FinishReason.STOP)
    assert encode(done).startswith(b"event: done\ndata: ")
    failed = Failed(ProviderUnavailable("AI provider"), None, before_first_token=False)
    assert encode(failed).startswith(b"event: error\ndata: ")
    assert encode(KeepAlive()) == b": keep-alive\n\n"
