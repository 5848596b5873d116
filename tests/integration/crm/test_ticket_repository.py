"""The ticket repository against a real Mongo-wire server: changes conditional on the
revision (a stale one changes nothing), breaches and first responses claimed once, the
watch time set only at the revision read, the department scope on every verb, and the
due tickets of every tenant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from api.domain.crm.tickets import SlaTimer, Ticket, TicketQuery, TicketSla, TicketStatus
from api.domain.departments import department_scope
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.crm.tickets import BeanieTicketRepository

ACME, BETA = TenantId("a" * 24), TenantId("b" * 24)
AT = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def draft(**fields: object) -> Ticket:
    base: dict[str, object] = {"contact_id": "c1", "subject": "Help", "created_at": AT,
                               "updated_at": AT}  # fmt: skip
    return Ticket.model_validate({**base, **fields})


async def test_changes_need_the_revision_they_were_decided_on() -> None:
    tickets = BeanieTicketRepository()
    with tenant_context(ACME):
        stored = await tickets.add(draft())
        assert stored.id is not None and stored.revision == 0
        changed = await tickets.update(stored.id, {"status": TicketStatus.PENDING}, revision=0)
        assert changed is not None and changed.revision == 1
        assert changed.status == TicketStatus.PENDING
        assert await tickets.update(stored.id, {"subject": "Stale"}, revision=0) is None
        assert not await tickets.set_watch(stored.id, AT, revision=0)
        assert await tickets.set_watch(stored.id, AT, revision=1)
        again = await tickets.get(stored.id)
        assert again is not None and again.subject == "Help" and again.sla_watch_at == AT
        assert again.revision == 1  # the watch time moves no revision


async def test_a_breach_and_a_first_response_are_claimed_once() -> None:
    tickets = BeanieTicketRepository()
    due = AT + timedelta(hours=1)
    with tenant_context(ACME):
        stored = await tickets.add(draft(sla=TicketSla(first_response_due=due)))
        assert stored.id is not None
        claims = await asyncio.gather(*(
            tickets.record_breach(stored.id, SlaTimer.FIRST_RESPONSE, due, revision=0)
            for _ in range(5)
        ))  # fmt: skip
        won = [c for c in claims if c is not None]
        assert len(won) == 1 and won[0].sla.first_response_breached_at == due
        assert won[0].sla.breached
        # Another timer, at the new revision, is its own claim.
        other = await tickets.record_breach(stored.id, SlaTimer.RESOLUTION, due, revision=1)
        assert other is not None and other.sla.resolution_breached_at == due
        firsts = await asyncio.gather(*(tickets.record_first_response(stored.id, AT)
                                        for _ in range(3)))  # fmt: skip
        assert sum(f is not None for f in firsts) == 1


async def test_the_department_scope_narrows_every_verb() -> None:
    tickets = BeanieTicketRepository()
    with tenant_context(ACME):
        sales = await tickets.add(draft(department_id="sales"))
        support = await tickets.add(draft(department_id="support"))
        assert sales.id is not None and support.id is not None
        with department_scope(["sales"]):
            assert await tickets.get(support.id) is None
            assert await tickets.update(support.id, {"subject": "x"}, revision=0) is None
            assert await tickets.comments(support.id) is None
            assert await tickets.record_first_response(support.id, AT) is None
            found = await tickets.search(TicketQuery(), cursor=None, limit=10)
            assert [t.id for t in found.items] == [sales.id]
            counts = await tickets.counts(AT - timedelta(days=1), AT + timedelta(days=1))
            assert sum(counts.open_by_priority.values()) == 1


async def test_due_tickets_come_from_every_tenant_by_watch_time() -> None:
    tickets = BeanieTicketRepository()
    with tenant_context(ACME):
        early = await tickets.add(draft(sla_watch_at=AT))
        await tickets.add(draft(sla_watch_at=AT + timedelta(hours=2)))
        await tickets.add(draft())  # not watched
    with tenant_context(BETA):
        beta = await tickets.add(draft(sla_watch_at=AT + timedelta(minutes=30)))
    due = await tickets.due(AT + timedelta(hours=1), limit=10)
    assert [(d.tenant_id, d.ticket_id) for d in due] == [(ACME, early.id), (BETA, beta.id)]
    assert len(await tickets.due(AT + timedelta(hours=1), limit=1)) == 1
