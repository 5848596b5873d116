"""The AI tests' stack: one Parley (uvicorn over TCP) and fake LLM server per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.ai_stack import AiStack, StackMaker, fresh


@pytest.fixture(scope="module")
async def shared_stack(mongo_url: str, redis_url: str, db_name: str) -> AsyncIterator[AiStack]:
    """One Parley and fake LLM server per AI test module (started only where used)."""
    async with StackMaker(mongo_url, redis_url, db_name)() as running:
        yield running


@pytest.fixture
def stack(shared_stack: AiStack) -> AiStack:
    """The module's Parley and fake LLM, each test starting from empty stores and a fresh
    fake."""
    return fresh(shared_stack)
