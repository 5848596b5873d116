"""AI assistants on a real Mongo-wire server: stored and read back whole, changed,
listed oldest first, found by channel (enabled ones only), and never across tenants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.domain.ai.assistants import Assistant, FollowUp, HandoffRules
from api.domain.business_hours import BusinessHours, TimeSpan, Weekday
from api.domain.errors import TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.assistants import BeanieAssistantRepository

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOURS = BusinessHours(
    timezone="Europe/Berlin",
    days={Weekday.MON: [TimeSpan(start="09:00", end="17:00")]},
    holidays=[date(2024, 12, 25)],
)


def assistant(
    name: str, channels: list[str], *, enabled: bool = True, at: datetime = T0
) -> Assistant:
    return Assistant(
        name=name, model="llama3.2:latest", instructions="Be brief.", channel_ids=channels,
        enabled=enabled, created_at=at, updated_at=at,
    )  # fmt: skip


@pytest.fixture
def repo() -> BeanieAssistantRepository:
    return BeanieAssistantRepository()


async def test_an_assistant_is_stored_whole(repo: BeanieAssistantRepository) -> None:
    full = assistant("Ada", ["c1"]).model_copy(
        update={
            "languages": ["de", "en"],
            "handoff": HandoffRules(after_turns=5, keywords=["agent", "human"], when_unsure=False),
            "business_hours": HOURS,
            "out_of_hours_message": "We are closed.",
            "max_tokens_per_day": 10_000,
            "follow_up": FollowUp(message="Still there?", template_name="nudge",
                                  template_language="en"),
        }
    )  # fmt: skip
    with tenant_context(TENANT_A):
        created = await repo.add(full)
        assert created.id is not None and created.tenant_id == TENANT_A
        found = await repo.get(created.id)
    assert found is not None
    assert found.model_dump(exclude={"id", "tenant_id"}) == full.model_dump(
        exclude={"id", "tenant_id"}
    )


async def test_changes_are_set_and_stamped(repo: BeanieAssistantRepository) -> None:
    with tenant_context(TENANT_A):
        created = await repo.add(assistant("Ada", ["c1"]))
        assert created.id is not None
        changed = await repo.update(
            created.id, {"name": "Bea", "business_hours": HOURS, "enabled": False}
        )
        assert changed is not None
        assert (changed.name, changed.business_hours, changed.enabled) == ("Bea", HOURS, False)
        assert changed.updated_at > T0
        assert await repo.update("0" * 24, {"name": "x"}) is None
        with pytest.raises(ValueError, match="cannot change"):
            await repo.update(created.id, {"created_at": T0})


async def test_for_channel_finds_the_oldest_enabled_one(repo: BeanieAssistantRepository) -> None:
    with tenant_context(TENANT_A):
        await repo.add(assistant("Off", ["c1"], enabled=False))
        newer = await repo.add(assistant("Newer", ["c1", "c2"], at=T0 + timedelta(hours=1)))
        older = await repo.add(assistant("Older", ["c1"], at=T0 + timedelta(minutes=1)))
        c1, c2 = await repo.for_channel("c1"), await repo.for_channel("c2")
        assert c1 is not None and c1.id == older.id
        assert c2 is not None and c2.id == newer.id
        assert await repo.for_channel("c3") is None
        assert [a.name for a in await repo.claiming(["c2", "c3"])] == ["Newer"]
        assert await repo.claiming([]) == []


async def test_tenants_never_see_each_others_assistants(repo: BeanieAssistantRepository) -> None:
    with tenant_context(TENANT_A):
        mine = await repo.add(assistant("Ada", ["c1"]))
        assert mine.id is not None
    with tenant_context(TENANT_B):
        assert await repo.get(mine.id) is None
        assert await repo.for_channel("c1") is None
        assert await repo.claiming(["c1"]) == []
        assert (await repo.search(skip=0, limit=10)).total == 0
        assert await repo.update(mine.id, {"name": "Stolen"}) is None
        assert await repo.delete(mine.id) is False
    with tenant_context(TENANT_A):
        page = await repo.search(skip=0, limit=10)
        assert [a.name for a in page.items] == ["Ada"] and page.total == 1
        assert await repo.delete(mine.id) is True
        assert await repo.get(mine.id) is None


async def test_no_tenant_no_access(repo: BeanieAssistantRepository) -> None:
    with pytest.raises(TenantRequired):
        await repo.get("nope")
    with pytest.raises(TenantRequired):
        await repo.for_channel("c1")
    with pytest.raises(TenantRequired):
        await repo.search(skip=0, limit=1)
