"""What the campaign send engine needs besides the campaign repositories: the marks of
contacts the provider refused for its per-user marketing limit (131049: not to be sent
marketing again for 24 hours), and the sweep's cross-tenant read of runs whose send job
stopped beating."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from api.domain.messaging.campaigns import RunStatus


class MarketingLimitMarks(Protocol):
    """Contacts of the current tenant that hit the provider's per-user marketing limit,
    remembered for a while (then forgotten)."""

    async def mark(self, contact_ids: list[str], seconds: float) -> None: ...

    async def marked(self, contact_ids: list[str]) -> set[str]:
        """Which of these contacts are marked now (one round trip)."""
        ...


class StaleRun(BaseModel):
    """A run whose send job's lease ran out (or that no job ever leased), in whichever
    tenant."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    run_id: str
    status: RunStatus


class CampaignRunSweep(Protocol):
    """The sweep's one cross-tenant read (each run is then handled within its tenant)."""

    async def stale(self, now: datetime, limit: int) -> list[StaleRun]:
        """At most `limit` runs `sending` with no live lease (none, or one that ran out
        before `now`), and runs `paused` or `cancelled` whose lease ran out (their job
        died while it held them)."""
        ...
