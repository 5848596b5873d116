"""The tenant's daily token quota, checked before a model is called."""

from __future__ import annotations

from api.domain.ai.entities import AiTenantSettings
from api.domain.ai.errors import QuotaExceeded
from api.domain.ai.ports import AiSettingsRepository, UsageLedger
from api.usecases.ai.days import seconds_to_next_day, utc_day


class TokenBudget:
    """The tenant's daily token quota: checked before a call, counted after."""

    def __init__(self, ledger: UsageLedger, settings: AiSettingsRepository) -> None:
        self._ledger = ledger
        self._settings = settings

    async def check(self, tenant: AiTenantSettings) -> None:
        quota = tenant.daily_token_quota
        if quota is None:
            return
        used = await self._ledger.tenant_total(utc_day())
        if used >= quota:
            raise QuotaExceeded(
                seconds_to_next_day(),
                f"This tenant has used its {quota} AI tokens for today (UTC).",
            )
