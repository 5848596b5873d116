"""The tenant's token usage report: per UTC day, user and model, with totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from api.common.clock import utcnow
from api.domain.ai.entities import UsageRow
from api.domain.ai.ports import AiSettingsRepository, UsageLedger
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.ai.days import utc_day
from api.usecases.kernel.authority import require_permission

MAX_USAGE_DAYS = 366


@dataclass(frozen=True)
class UsageReport:
    since: str
    until: str
    rows: list[UsageRow]
    input_tokens: int
    output_tokens: int
    daily_token_quota: int | None
    used_today: int


class GetUsage:
    """Tokens used per day, user and model between two UTC days (inclusive)."""

    def __init__(self, ledger: UsageLedger, settings: AiSettingsRepository) -> None:
        self._ledger = ledger
        self._settings = settings

    async def execute(
        self, principal: Principal, *, since: date | None, until: date | None, user_id: str | None
    ) -> UsageReport:
        require_permission(principal, Permission.AI_MANAGE)
        last = until or utcnow().date()
        first = since or last - timedelta(days=29)
        if first > last:
            raise InvalidInput(
                "`since` must not be after `until`.",
                [FieldProblem(("query", "since"), "after until")],
            )
        if (last - first).days >= MAX_USAGE_DAYS:
            raise InvalidInput(
                f"At most {MAX_USAGE_DAYS} days at a time.",
                [FieldProblem(("query", "since"), "range too long")],
            )
        rows = await self._ledger.rows(
            since=first.isoformat(), until=last.isoformat(), user_id=user_id
        )
        tenant = await self._settings.get()
        return UsageReport(
            since=first.isoformat(),
            until=last.isoformat(),
            rows=rows,
            input_tokens=sum(row.input_tokens for row in rows),
            output_tokens=sum(row.output_tokens for row in rows),
            daily_token_quota=tenant.daily_token_quota,
            used_today=await self._ledger.tenant_total(utc_day()),
        )
