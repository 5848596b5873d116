"""Which models the current tenant may use, and which one a request means."""

from __future__ import annotations

from api.domain.ai.entities import AiConversation, AiTenantSettings
from api.domain.ai.errors import UnknownModel
from api.domain.ai.ports import AiSettingsRepository, ChatModels
from api.domain.ai.values import ModelInfo
from api.usecases.ai.policy import AiPolicy


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
