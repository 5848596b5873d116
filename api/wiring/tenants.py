"""Tenants: the platform's tenant store, the cached directory every request reads, and
each tenant's company profile."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.plans import TenantPlans
from api.domain.tenants.profile import TenantProfileRepository
from api.domain.tenants.tenant import TenantDirectory, TenantRepository
from api.infrastructure.persistence.tenants.directory import CachingTenantDirectory
from api.infrastructure.persistence.tenants.profile import BeanieTenantProfileRepository
from api.infrastructure.persistence.tenants.tenants import PlatformTenantRepository
from api.usecases.kernel.tenancy import ResolveTenant
from api.usecases.tenants.signups import SignupPolicy
from api.wiring.clients import Clients


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    tenants = PlatformTenantRepository()
    container.register(TenantRepository, instance=tenants)
    container.register(TenantPlans, instance=tenants)
    directory = CachingTenantDirectory(tenants, settings.tenancy.tenant_cache_ttl_seconds)
    container.register(TenantDirectory, instance=directory)
    # Runs on every request (the tenant middleware): one shared, stateless instance.
    container.register(ResolveTenant, instance=ResolveTenant(directory))
    container.register(TenantProfileRepository, BeanieTenantProfileRepository)
    signup = settings.signup
    container.register(
        SignupPolicy,
        instance=SignupPolicy(
            enabled=signup.enabled,
            auto_approve=signup.auto_approve,
            rate_per_ip=signup.rate_per_ip,
            ip_window_seconds=signup.ip_window_seconds,
        ),
    )
