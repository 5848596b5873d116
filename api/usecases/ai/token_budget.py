"""The tenant's daily token quota: tokens held before a model is called, settled after.

Checking the day's usage before a call and counting the reply after it let concurrent
calls all pass the check and overshoot the quota together. Instead, each call first
holds, atomically against the quota, what it may cost: its prompt (estimated) and the
most tokens its reply may have (`max_output_tokens`, or what is left of the quota when
that is less: the model is then told to write no more). When not even one token of
reply fits, the call is refused (`QuotaExceeded`, 429 until the next UTC day). The
plan's `ai_tokens_per_day` is a quota too: the lower of the two applies, and when the
plan's is the one used up the refusal is 402 `plan_limit_reached`. When the
call ends, however it ends (finished, failed, stopped, the client gone), its hold is
settled: replaced by the tokens really used, as the usage ledger counts them. A hold its
process never settled (a crash) stops counting after `quota_hold_seconds`, and with its
day in any case.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from api.common.clock import utcnow
from api.domain.ai.entities import AiTenantSettings
from api.domain.ai.errors import QuotaExceeded
from api.domain.ai.ports import QuotaHolds
from api.domain.ai.values import PromptMessage, QuotaSettlement, TokenUsage, estimate_tokens
from api.domain.plans import LimitName, PlanLimitReached
from api.usecases.ai.days import seconds_to_next_day, utc_day
from api.usecases.ai.policy import AiPolicy
from api.usecases.kernel.plan_gate import PlanGate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    """Tokens one call holds of `day`'s quota (0: the tenant has no quota), and the most
    tokens its reply may have."""

    day: str
    id: str
    tokens: int
    max_output_tokens: int


def prompt_tokens(prompt: Sequence[PromptMessage]) -> int:
    """The estimated size of a prompt (the same estimate as a reply's unreported usage)."""
    return sum(estimate_tokens(m.content) for m in prompt)


class TokenBudget:
    """The tenant's daily token quota: held before a call, settled after."""

    def __init__(self, holds: QuotaHolds, policy: AiPolicy, gate: PlanGate) -> None:
        self._holds = holds
        self._policy = policy
        self._gate = gate

    async def hold(self, tenant: AiTenantSettings, prompt: Sequence[PromptMessage]) -> Hold:
        now = utcnow()
        day, hold_id = utc_day(now), uuid.uuid4().hex
        cap = self._policy.max_output_tokens
        own = tenant.daily_token_quota
        plan = await self._gate.limit(LimitName.AI_TOKENS_PER_DAY)
        quota = min((q for q in (own, plan) if q is not None), default=None)
        if quota is None:
            return Hold(day, hold_id, 0, cap)
        asked = prompt_tokens(prompt)
        held = await self._holds.hold(
            day=day, hold_id=hold_id, want=asked + cap, least=asked + 1, quota=quota,
            until=now + timedelta(seconds=self._policy.quota_hold_seconds),
        )  # fmt: skip
        if held is None:
            if plan is not None and quota == plan:
                raise PlanLimitReached(
                    LimitName.AI_TOKENS_PER_DAY, plan,
                    f"The plan's {plan} AI tokens for today (UTC) are used.",
                )  # fmt: skip
            raise QuotaExceeded(
                seconds_to_next_day(now),
                f"This tenant has used its {quota} AI tokens for today (UTC).",
            )
        return Hold(day, hold_id, held, held - asked)

    async def settle(self, hold: Hold, used: TokenUsage | None) -> None:
        """Replace the hold by the tokens used (None: the model produced nothing)."""
        settlement = self.settlement(hold, used)
        await self._holds.settle(
            day=settlement.day, hold_id=settlement.hold_id, held=settlement.held,
            used=settlement.used,
        )  # fmt: skip
        await self.settled(hold, used)

    def settlement(self, hold: Hold, used: TokenUsage | None) -> QuotaSettlement:
        """What settling the hold writes, for a store that writes it with the reply (see
        `AiTurns.end`); then `settled`."""
        return QuotaSettlement(hold.day, hold.id, hold.tokens, used.total if used else 0)

    async def settled(self, hold: Hold, used: TokenUsage | None) -> None:
        """The hold was settled: warn the tenant's owners when near the plan's limit."""
        if used is not None and hold.tokens:
            await self._gate.after_tokens(hold.day)

    async def release(self, hold: Hold) -> None:
        """Give back a hold whose call never reached the model (a failure is logged: the
        hold then lapses after `quota_hold_seconds`)."""
        try:
            await self.settle(hold, None)
        except Exception:
            log.warning("could not release an AI quota hold", exc_info=True)
