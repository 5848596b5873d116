"""Asking for a channel's templates to be read again from the provider (in a job)."""

from __future__ import annotations

from pydantic import BaseModel

from api.domain.identity.auth import Principal
from api.domain.jobs import JobQueue
from api.domain.messaging.channels import ChannelRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.messaging.template_rules import SYNC_TEMPLATES_JOB, connected_channel


class SyncRequested(BaseModel):
    channel_id: str
    job_id: str
    status: str = "queued"


class RequestTemplateSync:
    """Queue a sync of a channel's templates (`templates:manage`).

    Rules: the channel must be the tenant's (404) and connected (409); the job
    (`parley.templates.sync`, the channel id only) reads every page of the business
    account's templates and writes what changed (see `SyncTemplates`). A broker that is
    down is 503 and nothing is queued. Audited: `template.sync_requested`.
    """

    def __init__(self, channels: ChannelRepository, jobs: JobQueue, auditor: Auditor) -> None:
        self._channels = channels
        self._jobs = jobs
        self._auditor = auditor

    async def execute(self, principal: Principal, channel_id: str) -> SyncRequested:
        require_permission(principal, Permission.TEMPLATES_MANAGE)
        channel = await connected_channel(self._channels, channel_id)
        job_id = await self._jobs.enqueue(SYNC_TEMPLATES_JOB, channel_id=channel_id)
        await self._auditor.record(
            "template.sync_requested", "channel", channel_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"waba_id": channel.business_account_id}),
        )  # fmt: skip
        return SyncRequested(channel_id=channel_id, job_id=job_id)
