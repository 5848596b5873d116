"""`StructuredChatModels.call_tool` through the real LangChain adapters against the fake
LLM's Ollama and OpenAI wire formats: the model's tool call is the answer, a JSON text is
understood too, usage is the provider's, and an answer without either is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langchain_core.messages import AIMessage
from pydantic import SecretStr

from api.domain.ai.errors import ProviderRejected
from api.domain.ai.values import ModelInfo, PromptMessage, Provider, Speaker, ToolSpec
from api.infrastructure.ai.base import tool_call_of
from api.infrastructure.ai.catalog import ProviderChatModels
from api.wiring.ai import chat_models
from tests.support.fake_llm import FakeLLM, serve_fake_llm
from tests.support.settings import make_settings

OLLAMA = ModelInfo(id="llama3.2:latest", provider=Provider.OLLAMA)
OPENAI = ModelInfo(id="gpt-4o-mini", provider=Provider.OPENAI)
TOOL = ToolSpec(
    name="answer",
    description="Answer the customer or hand over.",
    parameters={
        "type": "object",
        "properties": {"action": {"type": "string", "enum": ["reply", "handoff"]},
                       "text": {"type": "string"}},
        "required": ["action"],
    },
)  # fmt: skip
PROMPT = [PromptMessage(Speaker.SYSTEM, "Be brief."), PromptMessage(Speaker.USER, "Hi there")]


@pytest.fixture(autouse=True)
def _clean() -> None:
    """No database here."""


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeLLM, ProviderChatModels]]:
    fake = FakeLLM()
    async with serve_fake_llm(fake) as url:
        base = make_settings("mongodb://127.0.0.1:1", "redis://127.0.0.1:1/0", "unused")
        settings = base.model_copy(
            update={"ai": base.ai.model_copy(update={
                "ollama_host": url, "openai_base_url": url + "/v1",
                "openai_api_key": SecretStr("sk-x"),
            })}
        )  # fmt: skip
        models = chat_models(settings)
        try:
            yield fake, models
        finally:
            await models.close()


@pytest.mark.parametrize("model", [OLLAMA, OPENAI], ids=["ollama", "openai"])
async def test_the_tool_call_is_the_answer(
    served: tuple[FakeLLM, ProviderChatModels], model: ModelInfo
) -> None:
    fake, models = served
    fake.tool_answers.append(
        {"action": "handoff", "reason": "on_request", "summary": "Wants a human"}
    )
    called = await models.call_tool(model, PROMPT, TOOL, max_output_tokens=50)
    assert called.arguments == {
        "action": "handoff",
        "reason": "on_request",
        "summary": "Wants a human",
    }
    assert (called.usage.input_tokens, called.usage.output_tokens) == (4, 4)
    assert not called.usage.estimated
    sent = fake.requests[-1]
    assert sent["tools"][0]["function"]["name"] == "answer"
    # The default answer: a reply made of the model's tokens.
    again = await models.call_tool(model, PROMPT, TOOL)
    assert again.arguments == {"action": "reply", "text": "Hello, world!"}


async def test_openai_is_told_to_call_the_tool(served: tuple[FakeLLM, ProviderChatModels]) -> None:
    fake, models = served
    await models.call_tool(OPENAI, PROMPT, TOOL)
    assert fake.requests[-1]["tool_choice"] == {"type": "function", "function": {"name": "answer"}}


def test_a_json_text_is_understood_and_other_text_refused() -> None:
    fenced = AIMessage(content='```json\n{"action": "reply", "text": "Hi"}\n```')
    parsed = tool_call_of(fenced, TOOL, Provider.OLLAMA, 40)
    assert parsed.arguments == {"action": "reply", "text": "Hi"} and parsed.usage.estimated
    with pytest.raises(ProviderRejected, match="without calling 'answer'"):
        tool_call_of(AIMessage(content="Sure, I can help"), TOOL, Provider.OPENAI, 40)
