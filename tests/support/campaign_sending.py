"""Helpers for the campaign sending tests: a running campaign with its run and recipient
rows written through the repositories (as the snapshot leaves them), the recipients'
numbers, what the fake Graph API received, and waiting for a run to end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import punq

from api.common.clock import utcnow
from api.domain.messaging.campaigns import (
    Audience,
    Campaign,
    CampaignRecipient,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRun,
    CampaignRunRepository,
    CampaignStatus,
    RecipientAddress,
    RunStatus,
    TemplateRef,
)
from api.domain.messaging.channels import Channel, ChannelRepository
from api.domain.messaging.contacts import Contact, ContactRepository, ContactSource
from api.domain.messaging.templates import APPROVED, Template, TemplateRepository
from api.domain.messaging.templates import TemplateVariable as Variable
from api.domain.tenancy import TenantId, tenant_context
from tests.support.fake_graph import WABA_ID, FakeGraph

TEMPLATE_NAME = "spring_sale"
BODY = "Hello {{1}}, spring prices are here."


def phone(index: int, prefix: str = "1650777") -> str:
    return f"+{prefix}{index:04d}"


@dataclass
class Arranged:
    tenant_id: str
    channel: Channel
    campaign: Campaign
    run: CampaignRun
    rows: list[CampaignRecipient]
    contacts: list[Contact]

    @property
    def run_id(self) -> str:
        return self.run.id or ""

    def scope(self) -> Any:
        return tenant_context(TenantId(self.tenant_id))


async def approved_template(container: punq.Container, channel: Channel) -> Template:
    now = utcnow()
    template = Template(
        channel_id=channel.id or "", waba_id=WABA_ID, name=TEMPLATE_NAME, language="en_US",
        category="MARKETING", status=APPROVED,
        components=[{"type": "BODY", "text": BODY, "example": {"body_text": [["Ann"]]}}],
        variables=[Variable(component="body", index=1, example="Ann")],
        created_at=now, updated_at=now,
    )  # fmt: skip
    templates: TemplateRepository = container.resolve(TemplateRepository)
    return await templates.add(template)


async def running_campaign(
    container: punq.Container,
    channel: Channel,
    count: int,
    *,
    rate: int = 80,
    owner_id: str | None = None,
    prefix: str = "1650777",
    name: str = "Spring sale",
) -> Arranged:
    """A running campaign of `count` contacts on `channel`, its run `sending` with one
    pending row per contact (what the snapshot leaves)."""
    tenant_id = channel.tenant_id or ""
    now = utcnow()
    with tenant_context(TenantId(tenant_id)):
        if (
            await container.resolve(TemplateRepository).find(
                channel.id or "", TEMPLATE_NAME, "en_US"
            )
            is None
        ):
            await approved_template(container, channel)
        contact_repo: ContactRepository = container.resolve(ContactRepository)
        contacts = [
            await contact_repo.create(Contact(
                name=f"Customer {i}", phone=phone(i, prefix), wa_id=phone(i, prefix)[1:],
                source=ContactSource.MANUAL, created_at=now, updated_at=now,
            ))
            for i in range(count)
        ]  # fmt: skip
        campaign = await container.resolve(CampaignRepository).add(Campaign(
            name=name, channel_id=channel.id or "",
            template=TemplateRef(name=TEMPLATE_NAME, language="en_US"),
            audience=Audience(all=True), status=CampaignStatus.RUNNING,
            messages_per_second=rate, owner_id=owner_id, created_at=now, updated_at=now,
        ))  # fmt: skip
        run = await container.resolve(CampaignRunRepository).create(CampaignRun(
            campaign_id=campaign.id or "", window=now.replace(microsecond=0),
            status=RunStatus.SENDING, recipients=count, started_at=now,
        ))  # fmt: skip
        assert run is not None
        await container.resolve(CampaignRepository).update(
            campaign.id or "", {"current_run_id": run.id}
        )
        rows = [
            CampaignRecipient(
                campaign_id=campaign.id or "", run_id=run.id or "", contact_id=c.id or "",
                address=RecipientAddress(phone=c.phone, wa_id=c.wa_id), name=c.name,
                variables={"body.1": c.name or ""}, seq=seq, updated_at=now,
            )
            for seq, c in enumerate(contacts)
        ]  # fmt: skip
        recipients: CampaignRecipientRepository = container.resolve(CampaignRecipientRepository)
        await recipients.add_snapshot(rows)
        page = await recipients.page(
            campaign.id or "", run_id=run.id, status=None, cursor=None, limit=count + 1
        )
        stored = page.items
    return Arranged(tenant_id, channel, campaign, run, stored, contacts)


async def set_tier(container: punq.Container, channel: Channel, rate: int) -> Channel:
    with tenant_context(TenantId(channel.tenant_id or "")):
        repo: ChannelRepository = container.resolve(ChannelRepository)
        await repo.replace(channel.model_copy(update={"messages_per_second": rate}))
        found = await repo.get(channel.id or "")
    assert found is not None
    return found


async def rows_of(container: punq.Container, arranged: Arranged) -> list[CampaignRecipient]:
    with arranged.scope():
        recipients: CampaignRecipientRepository = container.resolve(CampaignRecipientRepository)
        page = await recipients.page(
            arranged.campaign.id or "", run_id=arranged.run_id, status=None, cursor=None,
            limit=len(arranged.rows) + 1,
        )  # fmt: skip
    return page.items


async def run_of(container: punq.Container, arranged: Arranged) -> CampaignRun:
    with arranged.scope():
        runs: CampaignRunRepository = container.resolve(CampaignRunRepository)
        run = await runs.get(arranged.run_id)
    assert run is not None
    return run


async def campaign_of(container: punq.Container, arranged: Arranged) -> Campaign:
    with arranged.scope():
        campaigns: CampaignRepository = container.resolve(CampaignRepository)
        campaign = await campaigns.get(arranged.campaign.id or "")
    assert campaign is not None
    return campaign


async def run_ended(
    container: punq.Container, arranged: Arranged, seconds: float = 90
) -> CampaignRun:
    """The run once it is no longer `sending` (polled)."""
    deadline = time.monotonic() + seconds
    while True:
        run = await run_of(container, arranged)
        if run.status is not RunStatus.SENDING:
            return run
        assert time.monotonic() < deadline, f"run still sending after {seconds} s"
        await asyncio.sleep(0.2)


def sends_to(graph: FakeGraph) -> Counter[str]:
    """Requests the fake received to send a message, by recipient number."""
    return Counter(
        str(seen.body.get("to")) for seen in graph.requests
        if seen.endpoint == "send" and isinstance(seen.body, dict)
    )  # fmt: skip


def send_times(graph: FakeGraph) -> list[float]:
    return sorted(seen.at for seen in graph.requests if seen.endpoint == "send")


def busiest_second(times: list[float]) -> int:
    """The most requests that arrived within any 1-second window."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def long_ago() -> datetime:
    return datetime.now(UTC) - timedelta(days=1)
