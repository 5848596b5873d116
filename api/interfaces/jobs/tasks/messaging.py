"""Messaging tasks: process one stored webhook delivery; sweep the ones left behind; copy
an inbound message's file into the tenant's storage; sync a channel's templates; send a
queued message; send a read receipt; wake snoozed conversations; export contacts and
delete expired exports' files."""

from __future__ import annotations

from typing import Any

import punq

from api.interfaces.jobs.base import RetryPolicy, is_last_attempt, parley_task
from api.usecases.messaging.conversation_status import WAKE_JOB, WakeSnoozedConversations
from api.usecases.messaging.copy_inbound_media import CopyInboundMedia
from api.usecases.messaging.deliver_outbound_message import DeliverOutboundMessage
from api.usecases.messaging.export_contacts import (
    EXPORT_CONTACTS_JOB,
    SWEEP_EXPORTS_JOB,
    RunContactExport,
    SweepExpiredExports,
)
from api.usecases.messaging.inbound_content import COPY_MEDIA_JOB
from api.usecases.messaging.mark_conversation_read import SendReadReceipt
from api.usecases.messaging.process_webhook import ProcessWebhookEvent
from api.usecases.messaging.sending_rules import (
    READ_RECEIPT_JOB,
    SEND_MESSAGE_JOB,
    SWEEP_OUTBOUND_JOB,
    SendPolicy,
)
from api.usecases.messaging.sweep_outbound import SweepOutboundMessages
from api.usecases.messaging.sweep_webhooks import SweepWebhookEvents
from api.usecases.messaging.sync_templates import SyncTemplates
from api.usecases.messaging.template_rules import SYNC_TEMPLATES_JOB
from api.usecases.messaging.webhook_rules import PROCESS_WEBHOOK_JOB, SWEEP_WEBHOOKS_JOB


@parley_task(PROCESS_WEBHOOK_JOB)
async def process_webhook(container: punq.Container, webhook_event_id: str) -> dict[str, Any]:
    """Parse a stored delivery and settle each of its items once (see `ProcessWebhookEvent`)."""
    summary = await container.resolve(ProcessWebhookEvent).execute(webhook_event_id)
    return {"items": summary.items, "outcomes": summary.outcomes}


@parley_task(SWEEP_WEBHOOKS_JOB)
async def sweep_webhooks(container: punq.Container) -> int:
    """Periodic (beat): queue the deliveries whose processing was never queued or was lost."""
    return await container.resolve(SweepWebhookEvents).execute()


@parley_task(COPY_MEDIA_JOB)
async def copy_media(container: punq.Container, message_id: str) -> str | None:
    """Copy the message's media now (provider download URLs expire; see `CopyInboundMedia`);
    transient failures are retried with backoff."""
    link = await container.resolve(CopyInboundMedia).execute(message_id)
    return link.file_id if link else None


@parley_task(SYNC_TEMPLATES_JOB)
async def sync_templates(container: punq.Container, channel_id: str) -> dict[str, int]:
    """Read every template of the channel's business account and store what changed (see
    `SyncTemplates`); transient provider failures are retried with backoff."""
    outcome = await container.resolve(SyncTemplates).execute(channel_id)
    return outcome.model_dump()


def send_retries(container: punq.Container) -> RetryPolicy:
    """`SEND_MAX_ATTEMPTS` attempts, `SEND_RETRY_BACKOFF_*` delays, a provider's rate-limit
    wait honoured (up to the cap)."""
    policy: SendPolicy = container.resolve(SendPolicy)
    return RetryPolicy(
        max_retries=policy.max_attempts - 1,
        backoff_seconds=policy.backoff_seconds,
        backoff_max_seconds=policy.backoff_max_seconds,
        honor_retry_after=True,
    )


@parley_task(SEND_MESSAGE_JOB, retry_policy=send_retries, guarded=False, ignore_result=True)
async def send_message(container: punq.Container, message_id: str) -> str:
    """Send a queued message (see `DeliverOutboundMessage`); throughput limits and provider
    outages are retried with backoff and jitter, then the message fails with the code.

    No result is stored (nor the `STARTED` state): the message holds the outcome, nothing
    reads it from the backend, and those writes were about a tenth of the worker's time
    per send (bench/README.md, "sends.py"); Flower still shows it (task events). Not
    guarded by the job's idempotency key either: the use case's claim on the message
    (atomic, in Redis) already makes a redelivered copy wait for the run that holds
    it and then find the message settled, so the guard's two Redis round trips bought
    nothing here."""
    use_case: DeliverOutboundMessage = container.resolve(DeliverOutboundMessage)
    outcome = await use_case.execute(message_id, final_attempt=is_last_attempt())
    return outcome.value


@parley_task(SWEEP_OUTBOUND_JOB)
async def sweep_outbound(container: punq.Container) -> int:
    """Periodic (beat): queue again the outbound messages whose send job was lost, in every
    tenant (see `SweepOutboundMessages`)."""
    return await container.resolve(SweepOutboundMessages).execute()


@parley_task(READ_RECEIPT_JOB)
async def send_read_receipt(container: punq.Container, message_id: str, typing: bool) -> bool:
    """Mark an inbound message read at the provider (typing indicator optional)."""
    return await container.resolve(SendReadReceipt).execute(message_id, typing=typing)


@parley_task(WAKE_JOB)
async def wake_snoozed(container: punq.Container) -> int:
    """Periodic (beat): open again the snoozed conversations whose time has come, in every
    tenant (see `WakeSnoozedConversations`)."""
    return await container.resolve(WakeSnoozedConversations).execute()


@parley_task(EXPORT_CONTACTS_JOB)
async def export_contacts(container: punq.Container, export_id: str) -> bool:
    """Write the export's CSV into the tenant's storage (see `RunContactExport`); storage
    or database outages are retried with backoff, then the export is `failed`."""
    use_case: RunContactExport = container.resolve(RunContactExport)
    return await use_case.execute(export_id, final_attempt=is_last_attempt())


@parley_task(SWEEP_EXPORTS_JOB)
async def sweep_exports(container: punq.Container) -> int:
    """Periodic (beat): delete the files of contact exports past `expires_at`, in every
    tenant (see `SweepExpiredExports`)."""
    return await container.resolve(SweepExpiredExports).execute()
