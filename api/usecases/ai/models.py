"""Which models a tenant may use, its AI settings, and its token usage and budget."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from api.common.clock import utcnow
from api.domain.ai.entities import AiConversation, AiTenantSettings, UsageRow
from api.domain.ai.errors import QuotaExceeded, UnknownModel
from api.domain.ai.ports import AiSettingsRepository, ChatModels, UsageLedger
from api.domain.ai.values import ModelInfo
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now

MAX_USAGE_DAYS = 366


@dataclass(frozen=True)
class AiPolicy:
    """The deployment's AI settings (see `AiSettings` for each one's meaning)."""

    default_model: str | None = None
    system_prompt: str | None = None
    context_max_turns: int = 10
    context_max_tokens: int = 4000
    max_message_chars: int = 32000
    keepalive_seconds: float = 15.0
    start_grace_seconds: float = 3.0
    first_token_timeout_seconds: float = 120.0
    token_timeout_seconds: float = 60.0


def utc_day(at: datetime | None = None) -> str:
    return (at or utcnow()).astimezone(UTC).date().isoformat()


def seconds_to_next_day(at: datetime | None = None) -> int:
    now = (at or utcnow()).astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return max(1, math.ceil((midnight - now).total_seconds()))


class ModelAccess:
    """The models the current tenant may use: what the providers offer now, narrowed by
    the tenant's allow-list; and which one a request means."""

    def __init__(
        self, models: ChatModels, settings: AiSettingsRepository, policy: AiPolicy
    ) -> None:
        self._models = models
        self._settings = settings
        self._policy = policy

    async def available(self) -> tuple[list[ModelInfo], AiTenantSettings]:
        tenant = await self._settings.get()
        offered = await self._models.list_models()
        if tenant.allowed_models is not None:
            allowed = set(tenant.allowed_models)
            offered = [model for model in offered if model.id in allowed]
        return offered, tenant

    def default_of(self, offered: list[ModelInfo], tenant: AiTenantSettings) -> str | None:
        """The configured default (the tenant's, else the deployment's) when offered; None
        otherwise (a request naming no model then gets the first offered)."""
        wanted = self._configured_default(tenant)
        return wanted if any(model.id == wanted for model in offered) else None

    def _configured_default(self, tenant: AiTenantSettings) -> str | None:
        return tenant.default_model or self._policy.default_model

    async def resolve(
        self, requested: str | None, conversation: AiConversation | None
    ) -> tuple[ModelInfo, AiTenantSettings]:
        """The model for a request: the one asked for, else the conversation's, else the
        tenant's default, else the deployment's, else the first offered. `UnknownModel`
        (422) when it is not offered to this tenant."""
        offered, tenant = await self.available()
        by_id = {model.id: model for model in offered}
        wanted = (
            requested
            or (conversation.model if conversation else None)
            or self._configured_default(tenant)
        )
        if wanted is None:
            if not offered:
                raise UnknownModel("No model is available to this tenant.")
            return offered[0], tenant
        model = by_id.get(wanted)
        if model is None:
            raise UnknownModel(
                f"The model '{wanted}' is not available; GET /api/v1/ai/models lists those "
                "this tenant may use."
            )
        return model, tenant


class ListModels:
    def __init__(self, access: ModelAccess) -> None:
        self._access = access

    async def execute(self, principal: Principal) -> tuple[list[ModelInfo], str | None]:
        """The models and the default one (None when no default is set)."""
        require_permission(principal, Permission.AI_USE)
        offered, tenant = await self._access.available()
        return offered, self._access.default_of(offered, tenant)


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


class GetAiSettings:
    def __init__(self, settings: AiSettingsRepository) -> None:
        self._settings = settings

    async def execute(self, principal: Principal) -> AiTenantSettings:
        require_permission(principal, Permission.AI_MANAGE)
        return await self._settings.get()


@dataclass(frozen=True)
class AiSettingsChange:
    allowed_models: list[str] | None
    default_model: str | None
    daily_token_quota: int | None


class UpdateAiSettings:
    """Replace the tenant's AI settings. The default model must be allowed; models are
    names (a provider may add an allowed model later), deduplicated in order."""

    def __init__(self, settings: AiSettingsRepository, auditor: Auditor) -> None:
        self._settings = settings
        self._auditor = auditor

    async def execute(self, principal: Principal, change: AiSettingsChange) -> AiTenantSettings:
        require_permission(principal, Permission.AI_MANAGE)
        allowed = (
            None if change.allowed_models is None else tuple(dict.fromkeys(change.allowed_models))
        )
        if allowed is not None and change.default_model and change.default_model not in allowed:
            raise InvalidInput(
                "The default model must be one of the allowed models.",
                [FieldProblem(("body", "default_model"), "not in allowed_models")],
            )
        before = await self._settings.get()
        saved = await self._settings.put(
            replace(
                before,
                allowed_models=allowed,
                default_model=change.default_model,
                daily_token_quota=change.daily_token_quota,
                updated_at=stored_now(),
            )
        )
        await self._auditor.record(
            "ai_settings.updated", "ai_settings", None, actor_id=principal.user_id,
            changes=audit_extra(principal, {
                "allowed_models": list(allowed) if allowed is not None else None,
                "default_model": change.default_model,
                "daily_token_quota": change.daily_token_quota,
            }),
        )  # fmt: skip
        return saved


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
