"""A fake Graph API (WhatsApp Cloud API) per test that needs one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_graph import FakeGraph, serve_fake_graph


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    async with serve_fake_graph(fake):
        yield fake
