"""Send runs' claims in the real Redis (`RedisSendClaims`), on times the test chooses: a
new claim, a live one held (its `until`), a run-out one taken over (and kept a while after
its time, so a later run is a take-over, not a new claim), never across tenants; concurrent
takers (as many workers) get it once; given back and ended only by its tenant, ended no
sooner than asked; the sweep's `held` sees live claims only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from redis.asyncio import Redis

from api.domain.messaging.messages import ClaimOutcome
from api.infrastructure.cache.send_claims import CLAIM_PREFIX, RedisSendClaims

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
A, B = "a" * 24, "b" * 24


async def test_new_held_taken_over_and_never_another_tenants(redis_client: Redis) -> None:
    claims, message = RedisSendClaims(redis_client), str(ObjectId())
    first = await claims.take(message, A, now=NOW, until=NOW + timedelta(minutes=1))
    assert first.outcome is ClaimOutcome.NEW
    held = await claims.take(message, A, now=NOW, until=NOW + timedelta(minutes=5))
    assert held.outcome is ClaimOutcome.HELD and held.held_until == NOW + timedelta(minutes=1)
    other = await claims.take(message, B, now=NOW + timedelta(hours=1), until=NOW)
    assert other.outcome is ClaimOutcome.OTHER_TENANT and other.held_until is None
    later = NOW + timedelta(minutes=2)  # the first run died: its claim ran out
    taken = await claims.take(message, A, now=later, until=later + timedelta(minutes=1))
    assert taken.outcome is ClaimOutcome.TAKEN_OVER
    again = await claims.take(message, A, now=later, until=later + timedelta(minutes=9))
    assert again.held_until == later + timedelta(minutes=1)  # the take-over's time
    # Kept after its time (server time): a run then takes it over, reading the message again.
    ttl_ms = await redis_client.pttl(CLAIM_PREFIX + message)
    assert 3600_000 < ttl_ms <= 3660_000


async def test_of_concurrent_takers_one_gets_it(redis_client: Redis) -> None:
    claims, message = RedisSendClaims(redis_client), str(ObjectId())
    until = NOW + timedelta(minutes=1)
    takers = (claims.take(message, A, now=NOW, until=until) for _ in range(20))
    found = await asyncio.gather(*takers)
    assert [take.outcome for take in found].count(ClaimOutcome.NEW) == 1
    assert {take.outcome for take in found} == {ClaimOutcome.NEW, ClaimOutcome.HELD}


async def test_given_back_and_ended_only_by_its_tenant_and_no_sooner(redis_client: Redis) -> None:
    claims, message = RedisSendClaims(redis_client), str(ObjectId())
    key = CLAIM_PREFIX + message
    await claims.take(message, A, now=NOW, until=NOW + timedelta(minutes=1))
    await claims.give_back(message, B)
    await claims.end_after(message, B, 0.001)
    assert await redis_client.pttl(key) > 60_000  # untouched by another tenant
    await claims.end_after(message, A, 2.0)
    assert 1_000 < await redis_client.pttl(key) <= 2_000  # ends in 2 s, not before
    await claims.give_back(message, A)
    assert not await redis_client.exists(key)
    anew = await claims.take(message, A, now=NOW, until=NOW + timedelta(minutes=1))
    assert anew.outcome is ClaimOutcome.NEW
    await claims.end_after(str(ObjectId()), A, 2.0)  # no claim: nothing made


async def test_held_names_the_live_claims_only(redis_client: Redis) -> None:
    claims = RedisSendClaims(redis_client)
    live, run_out, none = str(ObjectId()), str(ObjectId()), str(ObjectId())
    await claims.take(live, A, now=NOW, until=NOW + timedelta(minutes=1))
    await claims.take(run_out, B, now=NOW, until=NOW - timedelta(seconds=1))
    assert await claims.held([live, run_out, none], now=NOW) == {live}
    assert await claims.held([], now=NOW) == set()
