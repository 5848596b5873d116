"""The real worker with one addition, registered through its container: a handler of
messages and statuses that counts each effect in Mongo (`test_effects`), with the tenant
it ran in. A message whose text is "explode" makes it fail for good.

`celery -A tests.support.webhook_worker:celery_app worker`
"""

from __future__ import annotations

from api import worker as _worker
from api.domain.messaging.channels import Channel
from api.domain.messaging.events import InboundEvent, MessageReceived
from api.domain.messaging.webhooks import InboundEventHandlers
from api.domain.tenancy import current_tenant_or_none
from api.infrastructure.persistence.messaging.webhooks import WebhookItemDocument

EFFECTS = "test_effects"


class CountingHandler:
    event_types = frozenset({"message_received", "status_updated"})

    async def handle(self, channel: Channel, event: InboundEvent) -> None:
        if isinstance(event, MessageReceived) and event.text == "explode":
            raise ValueError("the handler refused this message")
        database = WebhookItemDocument.get_pymongo_collection().database
        await database[EFFECTS].update_one(
            {"channel_id": channel.id, "key": event.key},
            {"$inc": {"count": 1}, "$set": {"tenant_id": current_tenant_or_none()}},
            upsert=True,
        )


_base = _worker.parley_runtime


def parley_runtime() -> _worker.WorkerRuntime:
    runtime = _base()
    handlers = runtime.container.resolve(InboundEventHandlers)
    if handlers.for_type("message_received") is None:
        handlers.add(CountingHandler())
    return runtime


celery_app = _worker.celery_app
celery_app.parley_runtime = parley_runtime
