"""The messaging context's `TenantTimezone`, on the tenant's company profile (the
messaging use cases may not import the tenants context; the wiring adapts one to the
other)."""

from __future__ import annotations

from api.domain.tenants.profile import DEFAULT_TIMEZONE, TenantProfileRepository


class ProfileTimezone:
    """`TenantTimezone` adapter: the current tenant's profile's zone, or UTC."""

    def __init__(self, profiles: TenantProfileRepository) -> None:
        self._profiles = profiles

    async def current(self) -> str:
        profile = await self._profiles.get()
        return profile.timezone if profile is not None else DEFAULT_TIMEZONE
