"""A campaign's audience read from the contacts (the segment filter compiled by
`contact_filter`): every live contact for `all`, the segments' contacts with the opted-out
ones (a run counts them), chosen contacts by id; deleted contacts never; in the tenant."""

from __future__ import annotations

from datetime import UTC, datetime

from api.domain.messaging.contacts import Contact, SegmentFilter
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.messaging.campaign_audience import MongoAudienceContacts
from api.infrastructure.persistence.messaging.contacts import BeanieContactRepository

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


async def _contacts(count: int, **fields: object) -> list[Contact]:
    repository = BeanieContactRepository()
    made = []
    for n in range(count):
        values: dict[str, object] = {"name": f"c{n}", "created_at": NOW, "updated_at": NOW,
                                     **fields}  # fmt: skip
        made.append(await repository.create(Contact.model_validate(values)))
    return made


async def _read(
    audience: MongoAudienceContacts,
    *,
    filters: list[SegmentFilter] | None = None,
    contact_ids: list[str | None] | None = None,
    everyone: bool = False,
    size: int = 2,
) -> list[list[str | None]]:
    ids = [i or "" for i in contact_ids or []]
    batches = audience.batches(filters=filters or [], contact_ids=ids, everyone=everyone, size=size)
    return [[c.id for c in batch] async for batch in batches]


async def test_the_audience_is_read_in_batches_within_the_tenant() -> None:
    audience = MongoAudienceContacts()
    with tenant_context(TENANT_B):
        theirs = await _contacts(2, tags=["vip"])
    with tenant_context(TENANT_A):
        vips = await _contacts(3, tags=["vip"])
        others = await _contacts(2, tags=["news"])
        stopped = await _contacts(1, tags=["vip"], opted_out=True)
        gone = await _contacts(1, tags=["vip"])
        await BeanieContactRepository().soft_delete(gone[0].id or "", NOW)
        live = {c.id for c in [*vips, *others, *stopped]}

        everyone = await _read(audience, everyone=True, contact_ids=[theirs[0].id])
        assert [len(batch) for batch in everyone] == [2, 2, 2]
        assert {i for batch in everyone for i in batch} == live

        segment = [SegmentFilter(tags_any=["vip"], opted_out=None)]
        tagged = {i for batch in await _read(audience, filters=segment) for i in batch}
        assert tagged == {c.id for c in [*vips, *stopped]}  # opted out included, deleted not
        chosen = await _read(
            audience,
            contact_ids=[others[0].id, gone[0].id, theirs[1].id, "not-an-id", others[0].id],
        )
        assert chosen == [[others[0].id]]
        both = await _read(audience, filters=segment, contact_ids=[others[1].id], size=10)
        assert [set(batch) for batch in both] == [
            {c.id for c in [*vips, *stopped]}, {others[1].id},
        ]  # fmt: skip
