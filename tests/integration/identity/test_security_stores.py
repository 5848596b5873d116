"""Revocations and rate limits on real Redis; sessions and one-time tokens on real Mongo."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import devservers
import pytest
from redis.asyncio import Redis

from api.common.clock import utcnow
from api.domain.errors import Conflict, ServiceUnavailable
from api.domain.identity.auth import AccessClaims, RotateOutcome, Session
from api.infrastructure.cache.rate_limit import RedisRateLimiter
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.cache.revocations import RedisRevocations
from api.infrastructure.persistence.identity.one_time_tokens import (
    MongoOneTimeTokens,
    OneTimeTokenDocument,
)
from api.infrastructure.persistence.identity.sessions import MongoSessionStore, SessionDocument

ACCESS_TTL = 900


def claims(
    *, session_id: str = "s1", user_id: str = "u1", tenant_id: str | None = "t1", iat: float
) -> AccessClaims:
    issued = datetime.fromtimestamp(int(iat), UTC)
    return AccessClaims(
        user_id=user_id,
        tenant_id=tenant_id,
        session_id=session_id,
        token_id=uuid.uuid4().hex,
        permissions=frozenset(),
        issued_at=issued,
        expires_at=issued + timedelta(seconds=ACCESS_TTL),
    )


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    client = create_redis(
        f"redis://127.0.0.1:{devservers.free_port()}/0", socket_timeout=0.5, max_connections=2
    )
    try:
        yield client
    finally:
        await client.aclose()


# -- revocations -----------------------------------------------------------------------------


async def test_revoked_session_is_refused_others_are_not(redis_client: Redis) -> None:
    revocations = RedisRevocations(redis_client, ACCESS_TTL)
    now = utcnow().timestamp()
    await revocations.revoke_sessions(["s1", "s3"])
    await revocations.revoke_sessions([])
    assert await revocations.is_revoked(claims(session_id="s1", iat=now))
    assert await revocations.is_revoked(claims(session_id="s3", iat=now))
    assert not await revocations.is_revoked(claims(session_id="s2", iat=now))
    ttl = await redis_client.ttl("parley:revoked:sid:s1")
    assert ACCESS_TTL < ttl <= ACCESS_TTL + 60


async def test_revoked_user_refuses_tokens_issued_until_then(redis_client: Redis) -> None:
    revocations = RedisRevocations(redis_client, ACCESS_TTL)
    at = datetime.fromtimestamp(1_900_000_000.4, UTC)
    await revocations.revoke_user("t1", "u1", at)
    assert await revocations.is_revoked(claims(iat=1_899_999_000))  # before
    assert await revocations.is_revoked(claims(iat=1_900_000_000))  # the same second
    assert not await revocations.is_revoked(claims(iat=1_900_000_001))  # after
    # Another tenant's user, and the platform plane, are other people.
    assert not await revocations.is_revoked(claims(tenant_id="t2", iat=1_899_999_000))
    assert not await revocations.is_revoked(claims(tenant_id=None, iat=1_899_999_000))
    ttl = await redis_client.ttl("parley:revoked:user:t1:u1")
    assert ACCESS_TTL < ttl <= ACCESS_TTL + 60


async def test_revocation_at_a_whole_second_refuses_that_second(redis_client: Redis) -> None:
    revocations = RedisRevocations(redis_client, ACCESS_TTL)
    await revocations.revoke_user(None, "admin", datetime.fromtimestamp(1_900_000_000, UTC))
    assert await revocations.is_revoked(claims(tenant_id=None, user_id="admin", iat=1_900_000_000))
    assert not await revocations.is_revoked(
        claims(tenant_id=None, user_id="admin", iat=1_900_000_001)
    )


async def test_user_revocation_keeps_the_latest_time(redis_client: Redis) -> None:
    revocations = RedisRevocations(redis_client, ACCESS_TTL)
    await revocations.revoke_user("t1", "u1", datetime.fromtimestamp(1_900_000_100, UTC))
    await revocations.revoke_user("t1", "u1", datetime.fromtimestamp(1_900_000_000, UTC))
    assert await revocations.is_revoked(claims(iat=1_900_000_050))
    stored = await redis_client.get("parley:revoked:user:t1:u1")
    assert stored is not None and float(stored) == 1_900_000_100


async def test_revocations_refuse_when_redis_is_down(dead_redis: Redis) -> None:
    revocations = RedisRevocations(dead_redis, ACCESS_TTL)
    with pytest.raises(ServiceUnavailable):
        await revocations.is_revoked(claims(iat=utcnow().timestamp()))
    with pytest.raises(ServiceUnavailable):
        await revocations.revoke_sessions(["s1"])
    with pytest.raises(ServiceUnavailable):
        await revocations.revoke_user("t1", "u1", utcnow())


# -- rate limits ------------------------------------------------------------------------------


async def test_rate_limit_window_and_retry_after(redis_client: Redis) -> None:
    limiter = RedisRateLimiter(redis_client)
    decisions = [await limiter.hit("login:ip:1", limit=3, window_seconds=60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 55 <= decisions[-1].retry_after <= 60
    assert await limiter.count("login:ip:1") == 4
    assert await limiter.count("login:ip:2") == 0
    assert (await limiter.hit("login:ip:2", limit=3, window_seconds=60)).allowed
    assert 0 < await redis_client.ttl("parley:rl:login:ip:1") <= 60
    await limiter.reset("login:ip:1")
    assert await limiter.count("login:ip:1") == 0
    assert (await limiter.hit("login:ip:1", limit=3, window_seconds=60)).allowed


async def test_rate_limit_window_ends(redis_client: Redis) -> None:
    limiter = RedisRateLimiter(redis_client)
    assert (await limiter.hit("k", limit=1, window_seconds=1)).allowed
    refused = await limiter.hit("k", limit=1, window_seconds=1)
    assert not refused.allowed and refused.retry_after == 1
    deadline = time.monotonic() + 10
    while await limiter.count("k"):  # the window ends: its counter expires in Redis
        assert time.monotonic() < deadline, "the one-second window did not end"
        await asyncio.sleep(0.02)
    assert (await limiter.hit("k", limit=1, window_seconds=1)).allowed


async def test_rate_limit_concurrent_hits_are_all_counted(redis_client: Redis) -> None:
    limiter = RedisRateLimiter(redis_client)
    results = await asyncio.gather(
        *(limiter.hit("burst", limit=5, window_seconds=60) for _ in range(20))
    )
    assert sum(d.allowed for d in results) == 5
    assert await limiter.count("burst") == 20


async def test_rate_limiter_refuses_when_redis_is_down(dead_redis: Redis) -> None:
    limiter = RedisRateLimiter(dead_redis)
    with pytest.raises(ServiceUnavailable):
        await limiter.hit("k", limit=1, window_seconds=60)
    with pytest.raises(ServiceUnavailable):
        await limiter.count("k")
    with pytest.raises(ServiceUnavailable):
        await limiter.reset("k")


# -- sessions ---------------------------------------------------------------------------------


def new_session(
    *, user_id: str = "u1", tenant_id: str | None = "t1", expires_in: float = 3600
) -> Session:
    now = utcnow()
    return Session(
        id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        user_id=user_id,
        current_hash="h0",
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in),
    )


async def test_rotate_happy_path() -> None:
    store = MongoSessionStore(reuse_grace_seconds=10)
    session = new_session()
    await store.create(session)
    first = await store.rotate(session.id, "h0", "h1")
    assert first.outcome is RotateOutcome.ROTATED
    assert first.session is not None and first.session.current_hash == "h1"
    assert first.session.tenant_id == "t1" and first.session.expires_at.tzinfo is not None
    assert (await store.rotate(session.id, "h1", "h2")).outcome is RotateOutcome.ROTATED
    assert (await store.rotate(session.id, "never-issued", "h9")).outcome is RotateOutcome.INVALID
    assert (await store.rotate("unknown", "h2", "h3")).outcome is RotateOutcome.INVALID
    stored = await SessionDocument.find_one({"_id": session.id})
    assert stored is not None and stored.current_hash == "h2" and not stored.revoked
    assert [s.hash for s in stored.spent] == ["h0", "h1"]


async def test_create_twice_is_a_conflict() -> None:
    store = MongoSessionStore(reuse_grace_seconds=10)
    session = new_session()
    await store.create(session)
    with pytest.raises(Conflict):
        await store.create(session)


async def test_expired_session_does_not_rotate() -> None:
    store = MongoSessionStore(reuse_grace_seconds=10)
    session = new_session(expires_in=-1)
    await store.create(session)
    assert (await store.rotate(session.id, "h0", "h1")).outcome is RotateOutcome.INVALID


async def test_concurrent_rotations_exactly_one_wins() -> None:
    store = MongoSessionStore(reuse_grace_seconds=10)
    session = new_session()
    await store.create(session)
    results = await asyncio.gather(*(store.rotate(session.id, "h0", f"new-{i}") for i in range(10)))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(RotateOutcome.ROTATED) == 1
    assert outcomes.count(RotateOutcome.RACED) == 9
    winner = outcomes.index(RotateOutcome.ROTATED)
    stored = await SessionDocument.find_one({"_id": session.id})
    assert stored is not None and stored.current_hash == f"new-{winner}"
    assert not stored.revoked


async def test_raced_within_grace_keeps_the_family() -> None:
    store = MongoSessionStore(reuse_grace_seconds=10)
    session = new_session()
    await store.create(session)
    await store.rotate(session.id, "h0", "h1")
    raced = await store.rotate(session.id, "h0", "other")
    assert raced.outcome is RotateOutcome.RACED
    assert raced.session is not None and not raced.session.revoked
    assert (await store.rotate(session.id, "h1", "h2")).outcome is RotateOutcome.ROTATED


async def test_reuse_after_grace_revokes_the_family() -> None:
    store = MongoSessionStore(reuse_grace_seconds=0)
    session = new_session()
    await store.create(session)
    await store.rotate(session.id, "h0", "h1")
    reused = await store.rotate(session.id, "h0", "stolen-next")
    assert reused.outcome is RotateOutcome.REUSED
    assert reused.session is not None and reused.session.revoked
    assert reused.session.user_id == "u1" and reused.session.tenant_id == "t1"
    # The legitimate holder's current token is dead too: the whole family is revoked.
    assert (await store.rotate(session.id, "h1", "h2")).outcome is RotateOutcome.INVALID


async def test_revoke_and_revoke_all() -> None:
    store = MongoSessionStore(reuse_grace_seconds=10)
    mine = [new_session(), new_session()]
    other_tenant = new_session(tenant_id="t2")
    platform = new_session(tenant_id=None)
    someone_else = new_session(user_id="u2")
    for session in [*mine, other_tenant, platform, someone_else]:
        await store.create(session)
    revoked = await store.revoke_all("t1", "u1")
    assert sorted(revoked) == sorted(s.id for s in mine)
    for session in mine:
        assert (await store.rotate(session.id, "h0", "x")).outcome is RotateOutcome.INVALID
    for session in (other_tenant, someone_else):
        assert (await store.rotate(session.id, "h0", "h1")).outcome is RotateOutcome.ROTATED
    assert await store.revoke_all("t1", "u1") == []
    assert await store.revoke_all(None, "u1") == [platform.id]
    single = await store.revoke(other_tenant.id)
    assert single is not None and single.revoked and single.id == other_tenant.id
    assert await store.revoke("unknown") is None


async def test_revoke_many_takes_only_the_users_own_live_sessions() -> None:
    store = MongoSessionStore(reuse_grace_seconds=10)
    mine = [new_session(), new_session(), new_session()]
    other_tenant = new_session(tenant_id="t2")
    someone_else = new_session(user_id="u2")
    for session in [*mine, other_tenant, someone_else]:
        await store.create(session)
    # Two of mine, and ids that are not mine (another tenant's, another user's, unknown).
    asked = [mine[0].id, mine[1].id, other_tenant.id, someone_else.id, "unknown"]
    assert await store.revoke_many("t1", "u1", asked) == 2
    assert [s.id for s in await store.live("t1", "u1")] == [mine[2].id]
    for session in (other_tenant, someone_else, mine[2]):
        assert (await store.rotate(session.id, "h0", "h1")).outcome is RotateOutcome.ROTATED
    assert await store.revoke_many("t1", "u1", asked) == 0  # already revoked
    assert await store.revoke_many("t1", "u1", []) == 0


# -- one-time tokens --------------------------------------------------------------------------

OTT_SECRET = "integration-ott-secret-0123456789abcdef"


async def test_one_time_token_is_single_use_and_stored_hashed() -> None:
    tokens = MongoOneTimeTokens(OTT_SECRET)
    token = await tokens.issue(purpose="reset", user_id="u1", tenant_id="t1", ttl_seconds=600)
    stored = await OneTimeTokenDocument.find_one({"user_id": "u1"})
    assert stored is not None and token not in stored.token_hash and len(stored.token_hash) == 64
    assert await tokens.consume(purpose="reset", token=token) == ("u1", "t1")
    assert await tokens.consume(purpose="reset", token=token) is None
    platform = await tokens.issue(purpose="invite", user_id="u9", tenant_id=None, ttl_seconds=60)
    assert await tokens.consume(purpose="invite", token=platform) == ("u9", None)


async def test_concurrent_consume_exactly_one_succeeds() -> None:
    tokens = MongoOneTimeTokens(OTT_SECRET)
    token = await tokens.issue(purpose="reset", user_id="u1", tenant_id="t1", ttl_seconds=600)
    results = await asyncio.gather(
        *(tokens.consume(purpose="reset", token=token) for _ in range(5))
    )
    assert results.count(("u1", "t1")) == 1
    assert results.count(None) == 4


async def test_expired_unknown_and_wrong_purpose_tokens_are_refused() -> None:
    tokens = MongoOneTimeTokens(OTT_SECRET)
    expired = await tokens.issue(purpose="reset", user_id="u1", tenant_id="t1", ttl_seconds=0)
    assert await tokens.consume(purpose="reset", token=expired) is None
    token = await tokens.issue(purpose="verify", user_id="u1", tenant_id="t1", ttl_seconds=600)
    assert await tokens.consume(purpose="reset", token=token) is None
    assert await tokens.consume(purpose="verify", token="x" * 43) is None
    assert await tokens.consume(purpose="verify", token="x" * 1000) is None
    assert await tokens.consume(purpose="verify", token="") is None
    other_secret = MongoOneTimeTokens("another-ott-secret-0123456789abcdefgh")
    assert await other_secret.consume(purpose="verify", token=token) is None
    assert await tokens.consume(purpose="verify", token=token) == ("u1", "t1")


async def test_revoke_for_user_spends_only_that_users_tokens_of_that_purpose() -> None:
    tokens = MongoOneTimeTokens(OTT_SECRET)
    first = await tokens.issue(purpose="reset", user_id="u1", tenant_id="t1", ttl_seconds=600)
    second = await tokens.issue(purpose="reset", user_id="u1", tenant_id="t1", ttl_seconds=600)
    verify = await tokens.issue(purpose="verify", user_id="u1", tenant_id="t1", ttl_seconds=600)
    theirs = await tokens.issue(purpose="reset", user_id="u2", tenant_id="t1", ttl_seconds=600)
    await tokens.revoke_for_user(purpose="reset", user_id="u1")
    assert await tokens.consume(purpose="reset", token=first) is None
    assert await tokens.consume(purpose="reset", token=second) is None
    assert await tokens.consume(purpose="verify", token=verify) == ("u1", "t1")
    assert await tokens.consume(purpose="reset", token=theirs) == ("u2", "t1")
