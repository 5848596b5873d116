"""Defence in depth behind the HTTP bounds: whatever skip or limit reaches a repository,
MongoDB is never handed an integer it cannot hold (8 bytes), and a limit of 0 or below
never means "everything"."""

from __future__ import annotations

from beanie import SortDirection

from api.common.clock import utcnow
from api.domain.audit import AuditEntry, AuditQuery
from api.domain.jobs import FailedJob
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.audit.entries import MongoAuditLog
from api.infrastructure.persistence.operations.failed_jobs import MongoFailedJobLog
from api.infrastructure.persistence.tenants.tenants import PlatformTenantRepository
from tests.support.database import Note, NoteRepository, create_tenant

TENANT = TenantId("a" * 24)
HUGE = (2**63, 2**64, 99390184889919926429548544)


async def test_the_scoped_repository_finds_nothing_past_any_collection() -> None:
    notes = NoteRepository()
    by_title = [("title", SortDirection.ASCENDING)]
    with tenant_context(TENANT):
        for title in ("a", "b", "c"):
            await notes.insert(Note(title=title))
        for skip in HUGE:
            assert await notes.find(skip=skip, limit=10) == []
            assert await notes.find(skip=skip) == []
        for limit in HUGE:  # too large to encode: no limit, as it could never be reached
            assert [n.title for n in await notes.find(sort=by_title, limit=limit)] == [
                "a",
                "b",
                "c",
            ]
        for limit in (0, -1, -(2**64)):  # MongoDB would read 0 as "no limit"
            assert await notes.find(limit=limit) == []
        assert [n.title for n in await notes.find(sort=by_title, skip=-5, limit=2)] == ["a", "b"]
        assert [n.title for n in await notes.find(sort=by_title, skip=2**63 - 1)] == []


async def test_the_audit_log_answers_an_empty_page_past_any_collection() -> None:
    audit = MongoAuditLog(retention_days=90)
    entry = AuditEntry(
        tenant_id=TENANT, actor_id=None, action="user.created", resource_type="user",
        resource_id="r1", changes={}, ip=None, user_agent=None, created_at=utcnow(),
    )  # fmt: skip
    with tenant_context(TENANT):
        await audit.record(entry)
        for skip in HUGE:
            assert await audit.search(AuditQuery(skip=skip, limit=20)) == ([], 1)
        for limit in HUGE:
            found, total = await audit.search(AuditQuery(limit=limit))
            assert len(found) == 1 and total == 1
        assert await audit.search(AuditQuery(limit=0)) == ([], 1)


async def test_the_tenant_list_answers_an_empty_page_past_any_collection() -> None:
    await create_tenant("acme")
    tenants = PlatformTenantRepository()
    for skip in HUGE:
        assert await tenants.search(prefix=None, status=None, skip=skip, limit=20) == ([], 1)
    for limit in HUGE:
        found, total = await tenants.search(prefix=None, status=None, skip=0, limit=limit)
        assert [t.subdomain for t in found] == ["acme"] and total == 1


async def test_the_failed_jobs_list_takes_any_limit() -> None:
    log = MongoFailedJobLog(retention_days=30)
    await log.record(
        FailedJob(
            task="parley.email.send", task_id="t1", tenant_id=None, request_id=None,
            arguments={}, error_type="RuntimeError", error="boom", attempts=1,
            failed_at=utcnow(),
        )
    )  # fmt: skip
    for limit in HUGE:
        assert [f.task_id for f in await log.recent(limit=limit)] == ["t1"]
    assert await log.recent(limit=0) == []
