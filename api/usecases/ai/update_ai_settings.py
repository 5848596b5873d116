"""Replacing a tenant's AI settings: allowed models, default model, daily token quota."""

from __future__ import annotations

from dataclasses import dataclass, replace

from api.domain.ai.entities import AiTenantSettings
from api.domain.ai.ports import AiSettingsRepository
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now


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
