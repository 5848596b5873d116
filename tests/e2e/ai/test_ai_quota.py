"""The daily token quota under concurrency: calls hold tokens before they reach the model
and settle them when they end, so concurrent streams never spend more than the quota."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from api.domain.ai.values import estimate_tokens
from api.infrastructure.persistence.ai.quota import QuotaDayDocument
from api.usecases.ai.days import utc_day
from tests.support.ai_stack import (
    AI,
    OLLAMA_MODEL,
    OPENAI_MODEL,
    AiStack,
    Person,
    StackMaker,
    Streamed,
    ask,
    eventually,
    put_ai_settings,
)
from tests.support.onboarding import admin_headers
from tests.support.plans import make_plan, put_on_plan

QUESTION = "Say hello"  # the fake counts 2 tokens in; it answers 4 ("Hello", ",", ...)
CAP = 10  # AI_MAX_OUTPUT_TOKENS of these tests
HOLD = estimate_tokens(QUESTION) + CAP  # what one call holds: 3 + 10
QUOTA = 3 * HOLD + 1  # three calls fit at once, not a fourth (nor one token of its reply)


@pytest.fixture
def make_stack(mongo_url: str, redis_url: str, db_name: str) -> StackMaker:
    return StackMaker(mongo_url, redis_url, db_name)


async def quota_day(tenant_id: str) -> dict[str, Any]:
    """The tenant's quota document of today, as stored."""
    collection = QuotaDayDocument.get_pymongo_collection()
    found = await collection.find_one({"tenant_id": tenant_id, "day": utc_day()})
    assert found is not None
    return dict(found)


async def used_today(stack: AiStack, owner: Person) -> int:
    usage = await stack.http.get(f"{AI}/usage", headers=owner.headers)
    assert usage.status_code == 200, usage.text
    return int(usage.json()["used_today"])


def spent(streams: list[Streamed]) -> int:
    return sum(
        done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
        for s in streams
        for done in s.named("done")
    )


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_concurrent_streams_never_spend_more_than_the_quota(
    make_stack: StackMaker, model: str
) -> None:
    async with make_stack(ai_max_output_tokens=CAP) as stack:
        owner = await stack.tenant("acme")
        await put_ai_settings(stack.http, owner, {"daily_token_quota": QUOTA})
        # Every stream stops after its first token until the test lets them go on: all
        # eight are running (or refused) at the same time.
        stack.fake.hold, stack.fake.hold_after = asyncio.Event(), 1
        body = {"message": QUESTION, "model": model}
        calls = [asyncio.create_task(ask(stack.http, owner, body)) for _ in range(8)]
        await eventually(lambda: _done_count(calls, 5), timeout=30)
        refused = [c.result() for c in calls if c.done()]
        assert [r.status for r in refused] == [429] * 5
        assert {r.problem["code"] for r in refused if r.problem} == {"quota_exceeded"}
        assert all(1 <= int(r.headers["retry-after"]) <= 24 * 3600 for r in refused)
        await stack.fake.wait_started(3)
        assert stack.fake.started == 3  # the refused calls never reached the model
        day = await quota_day(owner.tenant_id)
        assert day["committed"] == 3 * HOLD <= QUOTA and len(day["holds"]) == 3

        stack.fake.hold.set()
        answered = list(await asyncio.gather(*(c for c in calls if not c.done())))
        assert [a.status for a in answered] == [200] * 3
        assert all(a.text == "Hello, world!" for a in answered)
        # Settled: the holds are replaced by what the replies really used.
        assert spent(answered) == 3 * 6 == await used_today(stack, owner)
        day = await quota_day(owner.tenant_id)
        assert (day["committed"], day["spent"], day["holds"]) == (18, 18, {})

        # What is left (QUOTA - 18 = 22) holds one full call and one capped to the rest
        # (the model is told to write no more than that), not a third.
        stack.fake.hold = asyncio.Event()
        stack.fake.requests.clear()
        calls = [asyncio.create_task(ask(stack.http, owner, body)) for _ in range(3)]
        await eventually(lambda: _done_count(calls, 1), timeout=30)
        await stack.fake.wait_started(5)
        caps = sorted(_cap(request) for request in stack.fake.requests)
        assert caps == [QUOTA - 18 - HOLD - estimate_tokens(QUESTION), CAP]
        stack.fake.hold.set()
        more = list(await asyncio.gather(*calls))
        assert sorted(m.status for m in more) == [200, 200, 429]
        assert await used_today(stack, owner) == 18 + spent(more) <= QUOTA


async def test_a_cancelled_stream_settles_its_hold(make_stack: StackMaker) -> None:
    async with make_stack(ai_max_output_tokens=CAP) as stack:
        owner = await stack.tenant("acme")
        await put_ai_settings(stack.http, owner, {"daily_token_quota": QUOTA})
        stack.fake.hold, stack.fake.hold_after = asyncio.Event(), 2
        got = await ask(stack.http, owner, {"message": QUESTION}, stop_after=2)
        assert got.text == "Hello,"
        await stack.fake.wait_cancelled()

        async def settled() -> dict[str, Any] | None:
            day = await quota_day(owner.tenant_id)
            return day if not day["holds"] else None

        day = await eventually(settled, timeout=10)
        # The partial reply's tokens (estimated: the stream ended before the counts).
        used = estimate_tokens(QUESTION) + estimate_tokens("Hello,")
        assert (day["committed"], day["spent"]) == (used, used)
        assert await used_today(stack, owner) == used


def _cap(request: dict[str, Any]) -> int:
    """The output cap a chat request the fake received carried (either provider)."""
    if "options" in request:
        return int(request["options"]["num_predict"])
    return int(request["max_completion_tokens"])


async def _done_count(calls: list[asyncio.Task[Streamed]], count: int) -> bool:
    return sum(c.done() for c in calls) >= count


async def test_the_plans_daily_tokens_are_a_quota_too_refused_with_402(
    make_stack: StackMaker,
) -> None:
    async with make_stack(ai_max_output_tokens=CAP) as stack:
        owner = await stack.tenant("acme")
        other = await stack.tenant("beta")
        admin = await admin_headers(stack.http)
        plan = await make_plan(stack.http, admin, "Small", ai_tokens_per_day=HOLD)
        await put_on_plan(stack.http, admin, owner.tenant_id, plan["id"])
        body = {"message": QUESTION}
        # The first call holds all of it (and uses 6); the second holds what is left (7,
        # its reply capped to 4); then not even one token of a reply fits.
        assert (await ask(stack.http, owner, body)).status == 200
        assert (await ask(stack.http, owner, body)).status == 200
        refused = await ask(stack.http, owner, body)
        assert refused.status == 402
        assert refused.problem is not None
        assert (refused.problem["code"], refused.problem["limit"]) == (
            "plan_limit_reached", "ai_tokens_per_day",
        )  # fmt: skip
        assert await used_today(stack, owner) <= HOLD
        # The tenant's own lower quota still answers 429; another tenant is not limited.
        await put_ai_settings(stack.http, owner, {"daily_token_quota": 1})
        assert (await ask(stack.http, owner, body)).status == 429
        assert (await ask(stack.http, other, body)).status == 200
