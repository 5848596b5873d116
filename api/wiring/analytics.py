"""Analytics: the dashboard's figures (MongoDB aggregations), the campaigns' performance
(the campaigns feature's documents), the tenant's time zone (its company profile) and
the answers' cache (Redis)."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.analytics.dashboard import (
    CampaignPerformanceSource,
    CrmFiguresSource,
    DashboardCache,
    InboxFigures,
    TenantTimeZone,
)
from api.domain.analytics.platform import PlatformAnalyticsCache, PlatformFigures
from api.domain.tenants.profile import DEFAULT_TIMEZONE, TenantProfileRepository
from api.infrastructure.cache.analytics import RedisDashboardCache, RedisPlatformAnalyticsCache
from api.infrastructure.persistence.analytics.campaigns import MongoCampaignPerformance
from api.infrastructure.persistence.analytics.crm import MongoCrmFigures
from api.infrastructure.persistence.analytics.inbox import MongoInboxFigures
from api.infrastructure.persistence.analytics.platform import MongoPlatformFigures
from api.usecases.analytics.get_dashboard import AnalyticsPolicy
from api.usecases.analytics.get_platform_analytics import PlatformAnalyticsPolicy
from api.wiring.clients import Clients


class ProfileTimeZone:
    """`TenantTimeZone` adapter: the analytics context may not import the tenants one, so
    the wiring reads the company profile for it."""

    def __init__(self, profiles: TenantProfileRepository) -> None:
        self._profiles = profiles

    async def name(self) -> str:
        profile = await self._profiles.get()
        return profile.timezone if profile is not None else DEFAULT_TIMEZONE


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(InboxFigures, MongoInboxFigures)
    container.register(CampaignPerformanceSource, MongoCampaignPerformance)
    container.register(CrmFiguresSource, MongoCrmFigures)
    container.register(TenantTimeZone, ProfileTimeZone)
    container.register(DashboardCache, instance=RedisDashboardCache(clients.redis))
    container.register(
        AnalyticsPolicy, instance=AnalyticsPolicy(cache_seconds=settings.analytics_cache_seconds)
    )
    container.register(PlatformFigures, MongoPlatformFigures)
    container.register(PlatformAnalyticsCache, instance=RedisPlatformAnalyticsCache(clients.redis))
    container.register(
        PlatformAnalyticsPolicy,
        instance=PlatformAnalyticsPolicy(
            max_days=settings.plans.platform_analytics_max_days,
            cache_seconds=settings.analytics_cache_seconds,
        ),
    )
