"""A fake Graph API (WhatsApp Cloud API, and the Messenger Platform) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.fake_meta_graph import FakeMetaGraph, serve_fake_meta_graph


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    """The fake; its URL is `graph.base_url`, what it saw is `graph.requests`."""
    fake = FakeGraph()
    async with serve_fake_graph(fake):
        yield fake


@pytest.fixture
async def meta_graph() -> AsyncIterator[FakeMetaGraph]:
    """A fake Graph of the Messenger Platform (Messenger and Instagram); its URL is
    `meta_graph.base_url`, what it saw is `meta_graph.requests`."""
    fake = FakeMetaGraph()
    async with serve_fake_meta_graph(fake):
        yield fake
