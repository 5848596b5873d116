"""The messaging context's `ContactSettingsSource`, on the tenant's company profile.

The messaging use cases may not import the tenants context, so the wiring adapts one to
the other: the profile's `default_country` and consent keywords (folded as they compare).
"""

from __future__ import annotations

from api.common.locales import keyword
from api.domain.messaging.contacts import ContactSettings
from api.domain.tenants.profile import TenantProfileRepository


class ProfileContactSettings:
    """`ContactSettingsSource` adapter: the current tenant's profile, or the defaults."""

    def __init__(self, profiles: TenantProfileRepository) -> None:
        self._profiles = profiles

    async def current(self) -> ContactSettings:
        profile = await self._profiles.get()
        if profile is None:
            return ContactSettings()
        return ContactSettings(
            default_country=profile.default_country,
            opt_out_keywords=frozenset(keyword(w) for w in profile.opt_out_keywords),
            opt_in_keywords=frozenset(keyword(w) for w in profile.opt_in_keywords),
        )
