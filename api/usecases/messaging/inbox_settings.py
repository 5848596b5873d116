"""Reading and replacing a tenant's inbox settings (`/api/v1/inbox/settings`)."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.business_hours import check_business_hours
from api.domain.messaging.inbox_settings import InboxSettings, InboxSettingsRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now


async def settings_or_defaults(settings: InboxSettingsRepository) -> InboxSettings:
    return await settings.get() or InboxSettings()


class GetInboxSettings:
    """The tenant's inbox settings (`inbox:read`); the defaults when never saved."""

    def __init__(self, settings: InboxSettingsRepository) -> None:
        self._settings = settings

    async def execute(self, principal: Principal) -> InboxSettings:
        require_permission(principal, Permission.INBOX_READ)
        return await settings_or_defaults(self._settings)


class UpdateInboxSettings:
    """Replace the tenant's inbox settings (`inbox:manage`).

    `business_hours` must name a known IANA time zone (`invalid_timezone`), spans of
    `HH:MM` that do not end when they start (`invalid_time_span`) and never overlap
    (`overlapping_time_spans`); holidays are deduplicated and sorted. Audited
    (`inbox_settings.updated` with what changed)."""

    def __init__(self, settings: InboxSettingsRepository, auditor: Auditor) -> None:
        self._settings = settings
        self._auditor = auditor

    async def execute(self, principal: Principal, change: InboxSettings) -> InboxSettings:
        require_permission(principal, Permission.INBOX_MANAGE)
        hours = change.business_hours
        if hours is not None:
            check_business_hours(hours)
            hours = hours.model_copy(update={"holidays": sorted(set(hours.holidays))})
        before = await settings_or_defaults(self._settings)
        saved = await self._settings.put(
            change.model_copy(update={"business_hours": hours, "updated_at": stored_now()})
        )
        fields = {"auto_assign", "agent_capacity", "business_hours", "out_of_hours_message"}
        await self._auditor.record(
            "inbox_settings.updated", "inbox_settings", None, actor_id=principal.user_id,
            changes=audit_extra(principal, diff(
                before.model_dump(mode="json", include=fields),
                saved.model_dump(mode="json", include=fields),
            )),
        )  # fmt: skip
        return saved
