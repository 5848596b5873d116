"""The real worker with one addition, registered through its container: a handler of
messages and statuses that counts each effect in Mongo (`test_effects`), with the tenant
it ran in. A message whose text is "explode" makes it fail for good; one starting with
"refused:" fails for good with a pydantic validation error quoting the text; "flaky"
fails transiently the first time (attempts counted in `test_attempts`).

`celery -A tests.support.webhook_worker:celery_app worker`
"""

from __future__ import annotations

from pydantic import TypeAdapter

from api import worker as _worker
from api.domain.errors import TemporaryFailure
from api.domain.messaging.channels import Channel
from api.domain.messaging.events import InboundEvent, MessageReceived
from api.domain.messaging.webhooks import InboundEventHandlers
from api.domain.tenancy import current_tenant_or_none
from api.infrastructure.persistence.messaging.webhooks import WebhookItemDocument

EFFECTS = "test_effects"
ATTEMPTS = "test_attempts"


class CountingHandler:
    event_types = frozenset({"message_received", "status_updated"})

    async def handle(self, channel: Channel, event: InboundEvent) -> None:
        database = WebhookItemDocument.get_pymongo_collection().database
        if isinstance(event, MessageReceived) and event.text == "explode":
            raise ValueError("the handler refused this message")
        if isinstance(event, MessageReceived) and (event.text or "").startswith("refused:"):
            TypeAdapter(int).validate_python(event.text)  # raises, quoting the text
        if isinstance(event, MessageReceived) and event.text == "flaky":
            seen = await database[ATTEMPTS].find_one_and_update(
                {"key": event.key}, {"$inc": {"n": 1}}, upsert=True
            )
            if seen is None:  # the first attempt
                raise TemporaryFailure("the inbox is busy")
        await database[EFFECTS].update_one(
            {"channel_id": channel.id, "key": event.key},
            {"$inc": {"count": 1}, "$set": {"tenant_id": current_tenant_or_none()}},
            upsert=True,
        )


_base = _worker.parley_runtime


def parley_runtime() -> _worker.WorkerRuntime:
    runtime = _base()
    handlers = runtime.container.resolve(InboundEventHandlers)
    if not isinstance(handlers.for_type("message_received"), CountingHandler):
        handlers.add(CountingHandler())
    return runtime


celery_app = _worker.celery_app
celery_app.parley_runtime = parley_runtime
