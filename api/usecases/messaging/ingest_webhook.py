"""Receiving one webhook delivery: check it, store it raw, queue its processing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from api.domain.errors import MalformedRequest, NotFound, ServiceUnavailable
from api.domain.identity.auth import SecretBox
from api.domain.jobs import JobQueue
from api.domain.messaging.channels import ChannelType, is_meta_type
from api.domain.messaging.webhooks import (
    ChannelLookup,
    WebhookEvent,
    WebhookEventStatus,
    WebhookEventStore,
)
from api.domain.tenancy import tenant_context
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.webhook_rules import (
    PROCESS_WEBHOOK_JOB,
    WebhookPolicy,
    channel_secret,
    check_secret_token,
    check_signature,
    named_channel,
)

log = logging.getLogger(__name__)
_PARSE_INLINE = 64 * 1024  # larger bodies are parsed off the event loop


class IngestWebhook:
    """Accept a delivery of a provider's webhook (public; the tenant comes from the channel).

    Rules, in order: the channel named by the URL must exist in some tenant, be of the
    URL's type and be connected (else `NotFound`); on the platform's webhook (`channel_id`
    None, Meta's types only) the platform's app secret of that type must be configured
    (`WHATSAPP_APP_SECRET`, or `META_APP_SECRET` for Messenger and Instagram; else
    `NotFound`). Meta's types (WhatsApp, Messenger, Instagram): the signature over the raw
    bytes is checked in constant time with the channel's app secret, else the platform
    app's of its type (`Unauthorized` when missing, `Forbidden` when wrong). Telegram: the
    `X-Telegram-Bot-Api-Secret-Token` given must be the channel's stored secret token,
    compared in constant time (`Forbidden` when missing or wrong). The body must be a
    JSON object (else `MalformedRequest`). Then the raw delivery is stored (as `queued`,
    one write) and only then acknowledged; its processing is queued. A queue that is down
    loses nothing: the delivery is set back to `received` and the sweep queues it later
    (the sweep also re-queues a `queued` delivery left unprocessed, should this process
    die between the two).
    """

    def __init__(
        self,
        lookup: ChannelLookup,
        events: WebhookEventStore,
        jobs: JobQueue,
        box: SecretBox,
        policy: WebhookPolicy,
    ) -> None:
        self._lookup = lookup
        self._events = events
        self._jobs = jobs
        self._box = box
        self._policy = policy

    async def execute(
        self,
        type: ChannelType,
        channel_id: str | None,
        body: bytes,
        signature: str | None,
        *,
        secret_token: str | None = None,
    ) -> WebhookEvent:
        tenant_id: str | None = None
        if channel_id is None:
            secret = self._policy.platform_app(type).app_secret
            if secret is None or not is_meta_type(type):
                raise NotFound("The platform's webhook is not configured.")
            check_signature(secret, body, signature)
        else:
            channel = await named_channel(self._lookup, type, channel_id)
            tenant_id = channel.tenant_id
            if is_meta_type(type):
                check_signature(channel_secret(self._box, channel, self._policy), body, signature)
            else:
                check_secret_token(self._box, channel, secret_token)
        await _require_json_object(body)
        stored = await self._events.add(
            WebhookEvent(
                channel_type=type,
                channel_id=channel_id,
                tenant_id=tenant_id,
                received_at=stored_now(),
                body=body,
                signature_verified=True,
                status=WebhookEventStatus.QUEUED,
            )
        )
        assert stored.id is not None  # noqa: S101 - set by the store
        try:
            with tenant_context(None):  # processing routes each item to its channel's tenant
                await self._jobs.enqueue(PROCESS_WEBHOOK_JOB, webhook_event_id=stored.id)
        except ServiceUnavailable:
            log.warning("webhook event %s stored; its job will be queued by the sweep", stored.id)
            with contextlib.suppress(ServiceUnavailable):  # the sweep finds it either way
                await self._events.set_status(stored.id, WebhookEventStatus.RECEIVED)
        return stored


async def _require_json_object(body: bytes) -> None:
    try:
        parsed: Any = (
            json.loads(body)
            if len(body) <= _PARSE_INLINE
            else await asyncio.to_thread(json.loads, body)
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest("The webhook body is not JSON.") from exc
    if not isinstance(parsed, dict):
        raise MalformedRequest("The webhook body is not a JSON object.")
