"""Helpers for campaign tests: a tenant with a WhatsApp channel and stored templates (an
approved positional one, an approved named one, a pending one), contacts, and the
campaign use cases built with a clock and a job queue the test holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import httpx
import punq

from api.common.clock import utcnow
from api.domain.clock import Clock
from api.domain.identity.auth import SecretBox
from api.domain.jobs import JobQueue
from api.domain.messaging.campaigns import (
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRunRepository,
    CampaignSchedule,
)
from api.domain.messaging.channels import ChannelRepository
from api.domain.messaging.templates import Template, TemplateRepository, template_variables
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.campaign_actions import CampaignLauncher
from api.usecases.messaging.campaign_policy import CampaignPolicy
from api.usecases.messaging.campaign_runs import DispatchDueCampaigns
from tests.support.app import AppClient
from tests.support.channels import whatsapp_channel
from tests.support.fake_graph import WABA_ID

CAMPAIGNS = "/api/v1/campaigns"
CONTACTS = "/api/v1/contacts"
SEGMENTS = "/api/v1/segments"

# "Hi {{1}}, your code is {{2}}": keys body.1, body.2.
GREETING: list[dict[str, Any]] = [
    {"type": "BODY", "text": "Hi {{1}}, your code is {{2}}.",
     "example": {"body_text": [["Ann", "SPRING"]]}},
]  # fmt: skip
# Named: keys body.first_name, body.order_number.
ORDER: list[dict[str, Any]] = [
    {"type": "BODY", "text": "Thank you, {{first_name}}! Your order {{order_number}} is here.",
     "example": {"body_text_named_params": [
         {"param_name": "first_name", "example": "Pablo"},
         {"param_name": "order_number", "example": "860198"},
     ]}},
]  # fmt: skip


@dataclass(frozen=True)
class Shop:
    """A tenant ready for campaigns: its id, its owner's headers, its channel's id."""

    tenant_id: str
    owner: dict[str, str]
    channel_id: str


async def stock_tenant(container: punq.Container, tenant_id: str) -> str:
    """A WhatsApp channel with the templates `greeting` (approved), `order` (approved,
    named parameters) and `draft_promo` (pending), all `en`; the channel's id."""
    box: SecretBox = container.resolve(SecretBox)
    channels: ChannelRepository = container.resolve(ChannelRepository)
    with tenant_context(TenantId(tenant_id)):
        number = str(int(tenant_id, 16) % 10**12)  # a phone number id of the tenant's own
        channel = await channels.add(
            whatsapp_channel(box, "http://127.0.0.1:9", channel_id=None, phone_number_id=number)
        )
    assert channel.id is not None
    await stock_templates(container, tenant_id, channel.id)
    return channel.id


async def stock_templates(container: punq.Container, tenant_id: str, channel_id: str) -> None:
    """The templates `greeting` (approved), `order` (approved, named parameters) and
    `draft_promo` (pending), all `en`, on the tenant's channel."""
    templates: TemplateRepository = container.resolve(TemplateRepository)
    now = utcnow()
    with tenant_context(TenantId(tenant_id)):
        for name, components, status in (
            ("greeting", GREETING, "APPROVED"),
            ("order", ORDER, "APPROVED"),
            ("draft_promo", GREETING, "PENDING"),
        ):
            await templates.add(
                Template(
                    channel_id=channel_id, waba_id=WABA_ID, name=name, language="en",
                    category="MARKETING", status=status, components=components,
                    variables=template_variables(components), created_at=now, updated_at=now,
                )
            )  # fmt: skip


def campaign_body(channel: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Spring sale",
        "channel_id": channel,
        "template": {"name": "greeting", "language": "en"},
        "variables": [
            {"source": "field", "value": "name", "fallback": "friend"},
            {"source": "constant", "value": "SPRING"},
        ],
        "audience": {"tags_any": ["vip"]},
    }
    body.update(changes)
    return body


async def create_campaign(
    http: httpx.AsyncClient, headers: dict[str, str], channel: str, **changes: Any
) -> dict[str, Any]:
    response = await http.post(CAMPAIGNS, json=campaign_body(channel, **changes),
                               headers=headers)  # fmt: skip
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def add_contact(http: AppClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await http.post(CONTACTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


def dispatcher(container: punq.Container, clock: Clock, jobs: JobQueue) -> DispatchDueCampaigns:
    """The dispatch job's use case with the real repositories, and the test's clock and
    queue (to count the snapshots it queues)."""
    policy: CampaignPolicy = container.resolve(CampaignPolicy)
    runs: CampaignRunRepository = container.resolve(CampaignRunRepository)
    launcher = CampaignLauncher(
        container.resolve(CampaignRepository), runs,
        container.resolve(CampaignRecipientRepository), jobs, policy,
    )  # fmt: skip
    return DispatchDueCampaigns(
        container.resolve(CampaignSchedule), container.resolve(CampaignRepository), runs,
        launcher, jobs, policy, clock,
    )  # fmt: skip


def use_jobs(container: punq.Container, jobs: JobQueue) -> None:
    """Make the app queue its jobs on `jobs` (the use cases built so far are built again on
    their next use): what a test looks at is then never taken further by the session's
    worker (a snapshot, a send)."""
    container.register(JobQueue, instance=jobs)
    container._singletons.clear()
