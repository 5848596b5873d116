"""Campaign performance read from `campaign_recipients` and `campaigns` (documents put in
directly, with the fields the campaigns feature writes): counts by how far each recipient
got, the rates, the window on `updated_at`, names, tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from api.domain.analytics.dashboard import CampaignPerformance
from api.domain.errors import TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.analytics.campaigns import MongoCampaignPerformance
from api.infrastructure.persistence.base.mongo import MongoClient

ACME = TenantId("a" * 24)
BETA = TenantId("b" * 24)
SINCE = datetime(2026, 5, 1, tzinfo=UTC)
UNTIL = datetime(2026, 5, 8, tzinfo=UTC)
FRIDAY, WELCOME, GONE = ObjectId(), ObjectId(), ObjectId()


def recipient(tenant: str, campaign: ObjectId, status: str, at: datetime) -> dict[str, Any]:
    return {"tenant_id": tenant, "campaign_id": str(campaign), "run_id": "run-1",
            "contact_id": str(ObjectId()), "status": status, "updated_at": at}  # fmt: skip


async def test_counts_and_rates_per_campaign_within_the_window_and_tenant(
    mongo_client: MongoClient, db_name: str
) -> None:
    db = mongo_client[db_name]
    inside = SINCE + timedelta(days=1)
    statuses = ["sent", "delivered", "delivered", "read", "failed", "pending", "skipped"]
    await db["campaign_recipients"].insert_many(
        [recipient(ACME, FRIDAY, s, inside) for s in statuses]
        + [recipient(ACME, FRIDAY, "read", SINCE - timedelta(seconds=1))]  # before the window
        + [recipient(ACME, FRIDAY, "read", UNTIL)]  # the end is excluded
        + [recipient(ACME, WELCOME, "pending", SINCE), recipient(ACME, WELCOME, "sending", inside)]
        + [recipient(ACME, GONE, "sent", inside)]  # its campaign document is gone
        + [recipient(BETA, FRIDAY, "read", inside) for _ in range(5)]  # another tenant's
    )
    await db["campaigns"].insert_many([
        {"_id": FRIDAY, "tenant_id": ACME, "name": "Black Friday"},
        {"_id": WELCOME, "tenant_id": ACME, "name": "Welcome"},
    ])  # fmt: skip
    source = MongoCampaignPerformance()
    with tenant_context(ACME):
        found = await source.performance(SINCE, UNTIL)
    assert found == [
        CampaignPerformance(
            campaign_id=str(GONE), name=None, recipients=1, sent=1, delivered=0, read=0,
            failed=0, delivery_rate=0.0, read_rate=None,
        ),
        CampaignPerformance(
            campaign_id=str(FRIDAY), name="Black Friday", recipients=7, sent=4, delivered=3,
            read=1, failed=1, delivery_rate=0.75, read_rate=0.3333,
        ),
        CampaignPerformance(
            campaign_id=str(WELCOME), name="Welcome", recipients=2, sent=0, delivered=0,
            read=0, failed=0, delivery_rate=None, read_rate=None,
        ),
    ]  # fmt: skip
    with tenant_context(BETA):
        [beta] = await source.performance(SINCE, UNTIL)
    assert (beta.campaign_id, beta.recipients, beta.read) == (str(FRIDAY), 5, 5)
    assert beta.read_rate == 1.0
    assert beta.name is None  # the campaign document is acme's, not beta's


async def test_no_recipients_no_campaigns_and_no_tenant_no_read() -> None:
    source = MongoCampaignPerformance()
    with tenant_context(ACME):
        assert await source.performance(SINCE, UNTIL) == []
    with pytest.raises(TenantRequired):
        await source.performance(SINCE, UNTIL)
