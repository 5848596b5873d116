"""The campaign send engine: its policy (from `CAMPAIGN_*`, `SEND_RETRY_BACKOFF_*` and the
provider's timeout), the marketing-limit marks in Redis and the sweep's cross-tenant read
of runs."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.messaging.campaign_sending import CampaignRunSweep, MarketingLimitMarks
from api.infrastructure.cache.marketing_limits import RedisMarketingLimitMarks
from api.infrastructure.persistence.messaging.campaign_sweep import PlatformCampaignRunSweep
from api.usecases.messaging.campaign_sending_rules import CampaignSendPolicy
from api.wiring.clients import Clients

# A row's claim outlasts its request's longest answer by this much (never settled while
# the provider may still answer it).
CLAIM_MARGIN_SECONDS = 10.0


def campaign_send_policy(settings: Settings) -> CampaignSendPolicy:
    sending = settings.campaign_sending
    claim = max(sending.claim_seconds, settings.whatsapp.timeout_seconds + CLAIM_MARGIN_SECONDS)
    return CampaignSendPolicy(
        slice_seconds=sending.slice_seconds,
        claim_seconds=claim,
        batch_size=sending.batch_size,
        max_in_flight=sending.max_in_flight,
        burst_seconds=sending.burst_seconds,
        max_attempts=sending.max_attempts,
        backoff_seconds=settings.send_retry_backoff_seconds,
        backoff_max_seconds=settings.send_retry_backoff_max_seconds,
        heartbeat_seconds=min(2.0, claim / 4),
        report_base_url=f"{settings.public_base_url}{settings.api_prefix}",
    )


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(CampaignSendPolicy, instance=campaign_send_policy(settings))
    container.register(MarketingLimitMarks, instance=RedisMarketingLimitMarks(clients.redis))
    container.register(CampaignRunSweep, instance=PlatformCampaignRunSweep())
