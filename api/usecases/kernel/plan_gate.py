"""The gate every limited action passes: it counts usage against the tenant's plan.

- The plan: the tenant's own, else the plan flagged default, else the one `DEFAULT_PLAN`
  names; without any, unlimited (nothing is counted).
- Periods are UTC: messages count per calendar month (`2026-12`), AI tokens per day.
- Messages and storage are counters (`UsageCounters`): a reservation adds to the
  period's counter only while it stays within the limit (atomic: concurrent requests at
  the edge never pass it together) and is released when the action fails. A cold
  counter is seeded from the database, so a flushed cache still counts what was done.
- Seats and channels are counts of documents: the check and the insert run under a
  per-tenant lock, so concurrent creations at the limit let exactly the allowed ones in.
- Past `warn_percent` of a limit, the tenant's owners are emailed and a `limit_warning`
  is audited, once per limit and period.
- Past the limit: `PlanLimitReached` (402 `plan_limit_reached`, naming the limit).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.domain.clock import Clock
from api.domain.email.messages import EmailTemplate
from api.domain.errors import ParleyError
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import UserRepository
from api.domain.permissions import OWNER_ROLE
from api.domain.plans import (
    UNLIMITED_PLAN_NAME,
    LimitName,
    Plan,
    PlanLimitReached,
    PlanRepository,
    UsageCounters,
    UsageSources,
)
from api.domain.tenancy import current_tenant
from api.domain.tenants.tenant import TenantDirectory
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import QueueEmail
from api.usecases.kernel.plan_policy import PlanPolicy

log = logging.getLogger(__name__)

GAUGE_TTL_SECONDS = 3600  # storage counters are re-read from the database hourly
_DAY = 86_400
PERIODIC = (LimitName.MESSAGES_PER_MONTH, LimitName.AI_TOKENS_PER_DAY)


@dataclass(frozen=True)
class Period:
    """A limit's current period: its name (`2026-12`, `2026-12-06`; "" for what is held
    now), its bounds (None for what is held now)."""

    name: str
    start: datetime | None
    end: datetime | None


def month_start(at: datetime) -> datetime:
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def next_month(at: datetime) -> datetime:
    return datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)


def period_of(name: LimitName, at: datetime) -> Period:
    at = at.astimezone(UTC)
    if name is LimitName.MESSAGES_PER_MONTH:
        return Period(at.strftime("%Y-%m"), month_start(at), next_month(at))
    if name is LimitName.AI_TOKENS_PER_DAY:
        start = datetime(at.year, at.month, at.day, tzinfo=UTC)
        return Period(start.date().isoformat(), start, start + timedelta(days=1))
    return Period("", None, None)


@dataclass(frozen=True)
class Reservation:
    """What one action reserved of a counter (0: nothing counted, unlimited)."""

    key: str
    amount: int


def unlimited_plan() -> Plan:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return Plan(name=UNLIMITED_PLAN_NAME, created_at=epoch, updated_at=epoch)


class CurrentPlan:
    """The plan a tenant is on (see the module's rules)."""

    def __init__(self, tenants: TenantDirectory, plans: PlanRepository, policy: PlanPolicy) -> None:
        self._tenants = tenants
        self._plans = plans
        self._policy = policy

    async def of(self, tenant_id: str) -> Plan:
        tenant = await self._tenants.by_id(tenant_id)
        if tenant is not None and tenant.plan_id is not None:
            own = await self._plans.get(tenant.plan_id)
            if own is not None:
                return own
        return await self.default() or unlimited_plan()

    async def default(self) -> Plan | None:
        flagged = await self._plans.default()
        if flagged is not None or self._policy.default_plan is None:
            return flagged
        named = self._policy.default_plan
        return await self._plans.get(named) or await self._plans.get_by_name(named)


class LimitWarnings:
    """Warn a tenant's owners (email, `limit_warning` audit entry) once per limit and
    period when its usage passes `warn_percent` of the limit."""

    def __init__(
        self,
        counters: UsageCounters,
        users: UserRepository,
        roles: RoleRepository,
        mail: QueueEmail,
        auditor: Auditor,
        policy: PlanPolicy,
        clock: Clock,
    ) -> None:
        self._counters = counters
        self._users = users
        self._roles = roles
        self._mail = mail
        self._auditor = auditor
        self._policy = policy
        self._clock = clock

    def near(self, used: int, limit: int | None) -> bool:
        return limit is not None and limit > 0 and used * 100 >= limit * self._policy.warn_percent

    async def check(self, name: LimitName, used: int, limit: int | None) -> None:
        """Warn when `used` is past the share of `limit` for the first time this period;
        a failure is logged (the action it follows went through)."""
        if not self.near(used, limit):
            return
        assert limit is not None  # noqa: S101 - near() is False without a limit
        period = period_of(name, self._clock.now())
        key = f"{current_tenant()}:warned:{name.value}:{period.name or 'now'}"
        ttl = _DAY * 40 if period.name else _DAY * 30
        try:
            if not await self._counters.first_time(key, ttl):
                return
            await self._warn(name, used, limit, period)
        except ParleyError:
            log.warning("could not warn about the plan limit %s", name.value, exc_info=True)

    async def _warn(self, name: LimitName, used: int, limit: int, period: Period) -> None:
        owner = await self._roles.get_by_name(OWNER_ROLE)
        owners = []
        if owner is not None and owner.id is not None:
            page = await self._users.search(
                query=None, is_active=True, role_id=owner.id, skip=0, limit=20
            )
            owners = page.items
        context: dict[str, str | int | None] = {
            "limit_name": name.value.replace("_", " "),
            "used": used,
            "limit": limit,
            "percent": used * 100 // limit,
            "period": period.name or "now",
            "usage_url": f"{self._policy.public_base_url}/settings/usage",
        }
        for user in owners:
            await self._mail.execute(user.email, EmailTemplate.PLAN_LIMIT_WARNING, context)
        await self._auditor.record(
            "limit_warning", "plan_limit", name.value, actor_id=None,
            changes={"limit": name.value, "used": used, "allowed": limit,
                     "period": period.name or None, "notified": len(owners)},
        )  # fmt: skip


class PlanGate:
    """Counts the current tenant's usage against its plan (see the module's rules)."""

    def __init__(
        self,
        plans: CurrentPlan,
        counters: UsageCounters,
        sources: UsageSources,
        warnings: LimitWarnings,
        clock: Clock,
    ) -> None:
        self._plans = plans
        self._counters = counters
        self._sources = sources
        self._warnings = warnings
        self._clock = clock

    async def limit(self, name: LimitName) -> int | None:
        """The current tenant's limit (None: unlimited)."""
        return (await self._plans.of(current_tenant())).limits.of(name)

    async def reserve(
        self, name: LimitName, amount: int, *, least: int | None = None
    ) -> Reservation:
        """Reserve `amount` (or, with `least`, as much of it as fits, at least `least`) of a
        counted limit (messages, AI tokens, storage); `PlanLimitReached` when it does not
        fit. Unlimited: nothing is counted (`amount` 0)."""
        limit = await self.limit(name)
        if limit is None or amount <= 0:
            return Reservation("", 0)
        tenant = current_tenant()
        period = period_of(name, self._clock.now())
        key = f"{tenant}:{name.value}:{period.name or 'now'}"
        ttl = _ttl(period, self._clock.now())
        added, total = await self._counters.reserve(
            key, amount, limit=limit, least=amount if least is None else least,
            seed=lambda: self._seed(name, period), ttl_seconds=ttl,
        )  # fmt: skip
        if added <= 0:
            raise PlanLimitReached(name, limit)
        await self._warnings.check(name, total, limit)
        return Reservation(key, added)

    async def release(self, reservation: Reservation, amount: int | None = None) -> None:
        """Give back a reservation (or `amount` of it); a failure is logged (the counter
        is then re-read from the database when it expires)."""
        back = reservation.amount if amount is None else min(amount, reservation.amount)
        if not reservation.key or back <= 0:
            return
        try:
            await self._counters.release(reservation.key, back)
        except ParleyError:
            log.warning("could not release a plan reservation", exc_info=True)

    async def freed(self, name: LimitName, amount: int) -> None:
        """What is held now shrank (a file deleted): the counter follows at once."""
        if amount > 0:
            await self.release(Reservation(f"{current_tenant()}:{name.value}:now", amount))

    @asynccontextmanager
    async def admitting(self, name: LimitName) -> AsyncIterator[None]:
        """Run the body (which adds one seat or channel) only while the tenant holds fewer
        than its limit, under a per-tenant lock; `PlanLimitReached` otherwise."""
        limit = await self.limit(name)
        if limit is None:
            yield
            return
        count = self._count(name)
        async with self._counters.lock(f"{current_tenant()}:{name.value}"):
            used = await count()
            if used >= limit:
                raise PlanLimitReached(name, limit)
            yield
        await self._warnings.check(name, used + 1, limit)

    async def after_tokens(self, day: str) -> None:
        """AI tokens were counted (the quota holds count them): warn when near the plan's."""
        limit = await self.limit(LimitName.AI_TOKENS_PER_DAY)
        if limit is not None:
            used = await self._sources.ai_tokens(day)
            await self._warnings.check(LimitName.AI_TOKENS_PER_DAY, used, limit)

    async def used(self, name: LimitName) -> int:
        """The current tenant's usage of a limit this period (the counter when warm)."""
        period = period_of(name, self._clock.now())
        if name in (LimitName.SEATS, LimitName.CHANNELS):
            return await self._count(name)()
        if name is LimitName.AI_TOKENS_PER_DAY:  # the ledger is exact once calls settle
            return await self._seed(name, period)
        key = f"{current_tenant()}:{name.value}:{period.name or 'now'}"
        warm = await self._counters.peek(key)
        return warm if warm is not None else await self._seed(name, period)

    def _count(self, name: LimitName) -> Callable[[], Awaitable[int]]:
        return self._sources.seats if name is LimitName.SEATS else self._sources.channels

    async def _seed(self, name: LimitName, period: Period) -> int:
        if name is LimitName.MESSAGES_PER_MONTH:
            assert period.start is not None  # noqa: S101 - periodic
            assert period.end is not None  # noqa: S101
            return await self._sources.outbound_messages(period.start, period.end)
        if name is LimitName.AI_TOKENS_PER_DAY:
            return await self._sources.ai_tokens(period.name)
        if name is LimitName.STORAGE_BYTES:
            return await self._sources.storage_bytes()
        return await self._count(name)()


def _ttl(period: Period, now: datetime) -> int:
    """A counter lives until its period ends (a day more), a gauge an hour."""
    if period.end is None:
        return GAUGE_TTL_SECONDS
    return int((period.end - now).total_seconds()) + _DAY
