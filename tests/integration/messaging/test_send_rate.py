"""The per-number token bucket against the real Redis, on a clock the test moves: a full
bucket's burst, then one token per 1/rate s; concurrent takers (as many workers) never get
more than the bucket holds; buckets are per account; a clock going back adds nothing."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from api.domain.messaging.outbound import RateLimit, Slot
from api.infrastructure.cache.provider_slots import RedisProviderSlots
from api.infrastructure.cache.send_rate import RedisSendRateLimiter
from tests.fakes.clock import FakeUtcClock


@pytest.fixture
def clock() -> FakeUtcClock:
    return FakeUtcClock()


@pytest.fixture
def limiter(redis_client: Redis, clock: FakeUtcClock) -> RedisSendRateLimiter:
    return RedisSendRateLimiter(redis_client, clock)


async def test_a_burst_then_the_rate(limiter: RedisSendRateLimiter, clock: FakeUtcClock) -> None:
    takes = [await limiter.take("whatsapp:1", rate=4, capacity=4) for _ in range(4)]
    assert takes == [0.0] * 4
    assert await limiter.take("whatsapp:1", rate=4, capacity=4) == pytest.approx(0.25)
    clock.advance(seconds=0.1)
    assert await limiter.take("whatsapp:1", rate=4, capacity=4) == pytest.approx(0.15)
    clock.advance(seconds=0.15)
    assert await limiter.take("whatsapp:1", rate=4, capacity=4) == 0.0
    assert await limiter.take("whatsapp:1", rate=4, capacity=4) > 0
    clock.advance(seconds=60)  # refills to the capacity, not beyond
    takes = [await limiter.take("whatsapp:1", rate=4, capacity=4) for _ in range(5)]
    assert takes.count(0.0) == 4


async def test_concurrent_takers_share_one_bucket(
    limiter: RedisSendRateLimiter, redis_client: Redis, clock: FakeUtcClock
) -> None:
    other = RedisSendRateLimiter(redis_client, clock)  # another worker process
    takers = [limiter, other] * 8  # the session client holds 20 connections
    waits = await asyncio.gather(*(t.take("whatsapp:2", rate=80, capacity=6) for t in takers))
    assert sum(1 for w in waits if w == 0.0) == 6
    clock.advance(seconds=0.5)  # 40 tokens' worth, capped at 6
    waits = await asyncio.gather(*(t.take("whatsapp:2", rate=80, capacity=6) for t in takers))
    assert sum(1 for w in waits if w == 0.0) == 6


async def test_buckets_are_per_account_and_time_never_runs_back(
    limiter: RedisSendRateLimiter, clock: FakeUtcClock
) -> None:
    assert await limiter.take("whatsapp:3", rate=1, capacity=1) == 0.0
    assert await limiter.take("whatsapp:4", rate=1, capacity=1) == 0.0
    assert await limiter.take("whatsapp:3", rate=1, capacity=1) == pytest.approx(1.0)
    clock.advance(seconds=-30)  # another worker's clock, behind
    assert await limiter.take("whatsapp:3", rate=1, capacity=1) == pytest.approx(1.0)
    clock.advance(seconds=31)
    assert await limiter.take("whatsapp:3", rate=1, capacity=1) == 0.0
    with pytest.raises(ValueError, match="rate"):
        await limiter.take("whatsapp:3", rate=0, capacity=1)


async def test_take_up_to_takes_what_every_bucket_holds(
    limiter: RedisSendRateLimiter, clock: FakeUtcClock
) -> None:
    number = RateLimit(bucket="whatsapp:5", rate=10, capacity=10)
    campaign = RateLimit(bucket="campaign:c1", rate=4, capacity=2)
    taken, wait = await limiter.take_up_to([number, campaign], 5)
    assert taken == 2 and wait == pytest.approx(0.25)
    # Both buckets gave 2: the number's has 8 left, which the inbox's single take sees.
    assert [await limiter.take("whatsapp:5", rate=10, capacity=10) for _ in range(8)] == [0.0] * 8
    assert await limiter.take("whatsapp:5", rate=10, capacity=10) == pytest.approx(0.1)
    clock.advance(seconds=0.5)  # the number's refills 5, the campaign's 2 (its capacity)
    taken, wait = await limiter.take_up_to([number, campaign], 5)
    assert taken == 2 and wait == pytest.approx(0.25)
    taken, wait = await limiter.take_up_to([number, campaign], 1)
    assert taken == 0 and wait == pytest.approx(0.25)
    clock.advance(seconds=0.25)
    assert await limiter.take_up_to([number, campaign], 1) == (1, 0.0)


async def test_take_up_to_never_grants_more_than_the_rate_to_concurrent_takers(
    limiter: RedisSendRateLimiter, redis_client: Redis, clock: FakeUtcClock
) -> None:
    other = RedisSendRateLimiter(redis_client, clock)
    limits = [RateLimit(bucket="whatsapp:6", rate=100, capacity=100),
              RateLimit(bucket="campaign:c2", rate=50, capacity=5)]  # fmt: skip
    granted = 0
    for _ in range(20):  # 2 s in steps of 0.1 s, two takers each time
        results = await asyncio.gather(*(t.take_up_to(limits, 50) for t in (limiter, other)))
        granted += sum(taken for taken, _ in results)
        clock.advance(seconds=0.1)
    assert granted <= 5 + 50 * 2  # the campaign's burst, then its rate
    assert granted >= 50 * 2 - 5
    with pytest.raises(ValueError, match="at least one"):
        await limiter.take_up_to(limits, 0)


async def test_a_hold_gives_no_token_for_that_long(
    limiter: RedisSendRateLimiter, redis_client: Redis, clock: FakeUtcClock
) -> None:
    """A provider's `retry_after` (Telegram's 429): the bucket gives nothing meanwhile, to
    every worker, and the key outlives the hold (it is not forgotten when it expires)."""
    bucket = "telegram:7:424242"
    await limiter.hold(bucket, seconds=5, rate=1, capacity=1)
    other = RedisSendRateLimiter(redis_client, clock)
    assert await other.take(bucket, rate=1, capacity=1) == pytest.approx(5)
    assert await redis_client.pttl("parley:send-rate:" + bucket) > 5000
    clock.advance(seconds=4.5)
    assert await limiter.take(bucket, rate=1, capacity=1) == pytest.approx(0.5)
    clock.advance(seconds=0.5)
    assert await limiter.take(bucket, rate=1, capacity=1) == 0.0
    # A hold shorter than what the bucket already waits changes nothing.
    await limiter.hold(bucket, seconds=0.1, rate=1, capacity=1)
    assert await limiter.take(bucket, rate=1, capacity=1) == pytest.approx(1)


async def test_a_token_is_taken_in_a_slot_only_once_the_slot_is_had(
    limiter: RedisSendRateLimiter, redis_client: Redis
) -> None:
    """`take_in_slot`: the provider slots' rules (`RedisProviderSlots`, the same slots),
    and the token only with a slot: a send that finds them taken spends none."""
    slots = RedisProviderSlots(redis_client)

    def slot(holder: str) -> Slot:
        return Slot("channel:s1", holder, limit=2, hold_seconds=60)

    assert await limiter.take_in_slot("whatsapp:5", rate=2, capacity=2, slot=slot("a")) == 0.0
    assert await slots.acquire("channel:s1", "b", limit=2, hold_seconds=60)  # the other way in
    assert await limiter.take_in_slot("whatsapp:5", rate=2, capacity=2, slot=slot("c")) is None
    # "c" spent no token: "a" (holding its slot already) takes the last, then waits.
    assert await limiter.take_in_slot("whatsapp:5", rate=2, capacity=2, slot=slot("a")) == 0.0
    wait = await limiter.take_in_slot("whatsapp:5", rate=2, capacity=2, slot=slot("a"))
    assert wait == pytest.approx(0.5)
    await slots.release("channel:s1", "b")  # a slot for "c" now; the bucket still empty
    wait = await limiter.take_in_slot("whatsapp:5", rate=2, capacity=2, slot=slot("c"))
    assert wait == pytest.approx(0.5)
    assert not await slots.acquire("channel:s1", "d", limit=2, hold_seconds=60)
