"""The company profile: how a tenant presents itself and the defaults its data follows.

One per tenant (`GET/PUT /api/v1/tenant/profile`). `default_country` (ISO 3166-1 alpha-2)
is the region national phone numbers are read in; `timezone` (IANA) is the zone schedules
are set in; `opt_out_keywords` / `opt_in_keywords` are the tenant's own words (any
language) that, sent alone by a customer, stop or resume their marketing messages, on top
of the built-in STOP and START. A tenant that never saved one has the defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TIMEZONE = "UTC"
# The logo's types: raster images every mail client shows (no SVG: scripts, and many
# clients drop it).
LOGO_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class TenantProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    display_name: str | None = None
    logo_file_id: str | None = None
    brand_color: str | None = None  # "#RRGGBB"
    timezone: str = DEFAULT_TIMEZONE
    default_country: str | None = None
    locale: str | None = None
    email_footer: str | None = None
    opt_out_keywords: list[str] = Field(default_factory=list)
    opt_in_keywords: list[str] = Field(default_factory=list)
    updated_at: datetime | None = None  # None: never saved (the defaults)


class TenantProfileRepository(Protocol):
    """The current tenant's profile."""

    async def get(self) -> TenantProfile | None: ...

    async def save(self, profile: TenantProfile) -> TenantProfile:
        """Replace the profile (created on the first save)."""
        ...
