"""Plans and limits: the platform's plans (MongoDB), the usage counters and locks
(Redis), the usage the database holds (the counters' seeds), and the policy."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.plans import PlanRepository, UsageCounters, UsageSources
from api.infrastructure.cache.plan_counters import RedisUsageCounters
from api.infrastructure.persistence.plans.plans import CachingPlans, MongoPlanRepository
from api.infrastructure.persistence.plans.usage import MongoUsageSources
from api.usecases.kernel.plan_policy import PlanPolicy
from api.wiring.clients import Clients


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(
        PlanRepository,
        instance=CachingPlans(MongoPlanRepository(), settings.plans.plan_cache_seconds),
    )
    container.register(UsageCounters, instance=RedisUsageCounters(clients.redis))
    container.register(UsageSources, MongoUsageSources)
    container.register(
        PlanPolicy,
        instance=PlanPolicy(
            default_plan=settings.plans.default_plan,
            warn_percent=settings.plans.plan_warn_percent,
            public_base_url=settings.public_base_url,
        ),
    )
