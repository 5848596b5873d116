"""Erasing the raw webhook deliveries that name a person, on the real database: a processed
delivery loses its body at once; one still to be processed keeps it until its processing
ends, then loses it; one still in flight (whom it names not known yet) is checked when it
is; deliveries naming only others, or nobody, are untouched; erasing again finds nothing
left."""

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId

from api.common.clock import utcnow
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.webhooks import WebhookEvent, WebhookEventStatus
from api.infrastructure.persistence.messaging.webhooks import (
    ERASE_CHECK,
    ERASE_PENDING,
    SUBJECTS,
    MongoWebhookEventStore,
    WebhookEventDocument,
)

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PERSON = "t1:wa:16505550001"
OTHER = "t1:wa:16505550002"


async def stored(store: MongoWebhookEventStore, body: bytes) -> str:
    event = await store.add(
        WebhookEvent(
            channel_type=ChannelType.WHATSAPP, channel_id="c1", tenant_id="t1",
            received_at=utcnow(), body=body, signature_verified=True,
            status=WebhookEventStatus.QUEUED,
        )
    )  # fmt: skip
    assert event.id is not None
    return event.id


async def raw(event_id: str) -> dict[str, object]:
    found = await WebhookEventDocument.get_pymongo_collection().find_one(
        {"_id": ObjectId(event_id)}
    )
    assert found is not None
    return dict(found)


async def test_processed_deliveries_naming_the_person_lose_their_body_at_once() -> None:
    store = MongoWebhookEventStore()
    theirs = await stored(store, b'{"from": "16505550001"}')
    shared = await stored(store, b'{"from": ["16505550001", "16505550002"]}')
    others = await stored(store, b'{"from": "16505550002"}')
    nobody = await stored(store, b'{"template": "approved"}')
    for event_id, subjects in ((theirs, {PERSON}), (shared, {PERSON, OTHER}), (others, {OTHER})):
        await store.set_status(event_id, WebhookEventStatus.PROCESSED, items=1, subjects=subjects)
    await store.set_status(nobody, WebhookEventStatus.PROCESSED, items=1)
    assert (await raw(shared))[SUBJECTS] == sorted({PERSON, OTHER})
    assert SUBJECTS not in await raw(nobody)

    assert await store.erase_subjects({PERSON, "t1:bsuid:US.1"}, AT) == 2
    for event_id in (theirs, shared):
        erased = await store.get(event_id)
        assert erased is not None and erased.body == b"" and erased.erased_at == AT
        assert erased.status is WebhookEventStatus.PROCESSED and erased.items == 1
        assert SUBJECTS not in await raw(event_id)
    for event_id, body in ((others, b'{"from": "16505550002"}'), (nobody, b'{"template": ')):
        kept = await store.get(event_id)
        assert kept is not None and kept.body.startswith(body) and kept.erased_at is None
    # Again: nothing is left to erase; no subjects, no query.
    assert await store.erase_subjects({PERSON}, AT) == 0
    assert await store.erase_subjects(set(), AT) == 0


async def test_a_delivery_still_processing_is_erased_when_its_processing_ends() -> None:
    store = MongoWebhookEventStore()
    retrying = await stored(store, b'{"from": ["16505550001", "16505550002"]}')
    await store.set_status(retrying, WebhookEventStatus.RETRYING, items=2, subjects={PERSON, OTHER})

    # Its other items still need the body: it is kept, marked.
    assert await store.erase_subjects({PERSON}, AT) == 1
    waiting = await store.get(retrying)
    assert waiting is not None and waiting.body.startswith(b'{"from"')
    assert waiting.erased_at is None and (await raw(retrying))[ERASE_PENDING] is True
    assert await store.erase_subjects({PERSON}, AT) == 0  # marked once

    # Still retrying: kept; processed: erased at once.
    await store.set_status(retrying, WebhookEventStatus.RETRYING, items=2, subjects={OTHER})
    still = await store.get(retrying)
    assert still is not None and still.body != b""
    await store.set_status(retrying, WebhookEventStatus.PROCESSED, items=2, subjects={OTHER})
    done = await store.get(retrying)
    assert done is not None and done.body == b"" and done.erased_at is not None
    left = await raw(retrying)
    assert SUBJECTS not in left and ERASE_PENDING not in left
    assert done.status is WebhookEventStatus.PROCESSED


async def test_a_marked_delivery_processed_without_its_erasure_is_erased_next_time() -> None:
    """A `set_status` that failed between its two writes leaves a processed delivery
    marked: erasing the person again completes it."""
    store = MongoWebhookEventStore()
    event_id = await stored(store, b'{"from": "16505550001"}')
    await WebhookEventDocument.get_pymongo_collection().update_one(
        {"_id": ObjectId(event_id)},
        {"$set": {"status": "processed", SUBJECTS: [PERSON], ERASE_PENDING: True}},
    )
    assert await store.erase_subjects({PERSON}, AT) == 1
    erased = await store.get(event_id)
    assert erased is not None and erased.body == b"" and erased.erased_at == AT


async def test_deliveries_in_flight_are_checked_when_their_processing_ends() -> None:
    """Whom a delivery names is known once it is processed: one still queued when the
    person is erased is erased as it is set processed if it names them, kept if not."""
    store = MongoWebhookEventStore()
    theirs = await stored(store, b'{"from": "16505550001"}')
    others = await stored(store, b'{"from": "16505550002"}')
    retried = await stored(store, b'{"from": ["16505550001", "16505550002"]}')
    assert await store.erase_subjects({PERSON}, AT) == 0  # none is known to name them yet
    assert (await raw(theirs))[ERASE_CHECK] == [PERSON]

    await store.set_status(theirs, WebhookEventStatus.PROCESSED, items=1, subjects={PERSON})
    await store.set_status(others, WebhookEventStatus.PROCESSED, items=1, subjects={OTHER})
    erased = await store.get(theirs)
    assert erased is not None and erased.body == b"" and erased.erased_at is not None
    assert erased.status is WebhookEventStatus.PROCESSED
    kept = await store.get(others)
    assert kept is not None and kept.body == b'{"from": "16505550002"}'
    assert ERASE_CHECK not in await raw(others) and (await raw(others))[SUBJECTS] == [OTHER]

    # Retrying, its other items still need the body: erased when its processing ends.
    await store.set_status(retried, WebhookEventStatus.RETRYING, items=2, subjects={PERSON, OTHER})
    waiting = await raw(retried)
    assert waiting[ERASE_PENDING] is True and ERASE_CHECK not in waiting
    assert waiting["body"] != b""
    await store.set_status(retried, WebhookEventStatus.PROCESSED, items=2, subjects={PERSON, OTHER})
    done = await store.get(retried)
    assert done is not None and done.body == b""

    # A delivery that arrives after the erasure is the person writing again: kept.
    later = await stored(store, b'{"from": "16505550001", "again": true}')
    await store.set_status(later, WebhookEventStatus.PROCESSED, items=1, subjects={PERSON})
    again = await store.get(later)
    assert again is not None and again.body != b"" and again.erased_at is None
