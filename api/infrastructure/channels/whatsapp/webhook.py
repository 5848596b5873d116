"""A WhatsApp webhook delivery (Meta's JSON) as Parley's typed events, one per item.

`entry[].changes[]` carry a `field`: `messages` (customer messages, delivery statuses and
`value.errors`), `message_template_status_update`, `message_template_quality_update`,
`template_category_update`, `user_preferences`; anything else is `Unrecognized`. Each item
is parsed on its own: one that cannot be read becomes `Unrecognized` (with its raw JSON)
and the others still come through.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from api.domain.messaging.events import (
    ChannelErrors,
    DeliveryState,
    InboundEvent,
    MarketingPreference,
    Pricing,
    Sender,
    StatusUpdated,
    TemplateChange,
    TemplateUpdated,
    Unrecognized,
)
from api.infrastructure.channels.whatsapp.inbound import parse_message, provider_errors, timestamp

log = logging.getLogger(__name__)

TEMPLATE_FIELDS = {
    "message_template_status_update": TemplateChange.STATUS,
    "message_template_quality_update": TemplateChange.QUALITY,
    "template_category_update": TemplateChange.CATEGORY,
}


def digest(raw: Any) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def parse_webhook(payload: dict[str, Any]) -> list[InboundEvent]:
    events: list[InboundEvent] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            events.extend(_change(entry, change))
    return events


def _change(entry: dict[str, Any], change: Any) -> Iterator[InboundEvent]:
    if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
        yield unrecognized("unknown", change, None)
        return
    field, value = str(change.get("field", "")), change["value"]
    if field == "messages":
        yield from _messages_value(value)
    elif field in TEMPLATE_FIELDS:
        change_kind = TEMPLATE_FIELDS[field]
        yield _guarded(
            field, value, str(entry.get("id", "")), lambda v, a: _template(v, a, change_kind)
        )
    elif field == "user_preferences":
        account_id = str((value.get("metadata") or {}).get("phone_number_id", ""))
        for item in value.get("user_preferences") or []:
            yield _guarded(field, item, account_id, lambda i, a: _preference(i, a, value))
    else:
        yield unrecognized(field, value, None)


def _messages_value(value: dict[str, Any]) -> Iterator[InboundEvent]:
    account_id = str((value.get("metadata") or {}).get("phone_number_id", ""))
    contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
    for message in value.get("messages") or []:
        yield _guarded("messages", message, account_id, lambda m, a: parse_message(m, contacts, a))
    for status in value.get("statuses") or []:
        yield _guarded("statuses", status, account_id, _status)
    if value.get("errors"):
        yield _guarded("errors", value["errors"], account_id, _errors)


def _guarded(
    field: str,
    item: Any,
    account_id: str,
    parse: Callable[[Any, str], InboundEvent],
) -> InboundEvent:
    try:
        return parse(item, account_id)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("Unreadable WhatsApp %s item (%s)", field, type(exc).__name__)
        return unrecognized(field, item, account_id or None)


def unrecognized(field: str, raw: Any, account_id: str | None) -> Unrecognized:
    body = raw if isinstance(raw, dict) else {"item": raw}
    return Unrecognized(
        key=f"unrecognized:{digest(body)}", account_id=account_id, field=field, raw=body
    )


def _status(status: dict[str, Any], account_id: str) -> StatusUpdated:
    external_id = str(status["id"])
    state = DeliveryState(str(status["status"]).lower())
    pricing = status.get("pricing")
    conversation = status.get("conversation") or {}
    return StatusUpdated(
        key=f"status:{external_id}:{state.value}",
        account_id=account_id,
        external_id=external_id,
        state=state,
        timestamp=timestamp(status["timestamp"]),
        recipient_phone=status.get("recipient_id"),
        recipient_user_id=status.get("recipient_user_id"),
        conversation_id=conversation.get("id"),
        pricing=Pricing(
            model=pricing.get("pricing_model"),
            category=pricing.get("category"),
            type=pricing.get("type"),
            billable=pricing.get("billable"),
        )
        if isinstance(pricing, dict)
        else None,
        tracker=status.get("biz_opaque_callback_data"),
        errors=provider_errors(status.get("errors")),
    )


def _errors(errors: list[dict[str, Any]], account_id: str) -> ChannelErrors:
    return ChannelErrors(
        key=f"errors:{account_id}:{digest(errors)}",
        account_id=account_id,
        errors=provider_errors(errors),
    )


def _template(value: dict[str, Any], waba_id: str, change: TemplateChange) -> TemplateUpdated:
    template_id = str(value["message_template_id"])
    status = value.get("event")
    quality = value.get("new_quality_score")
    category = value.get("new_category")
    marker = status or quality or category or ""
    return TemplateUpdated(
        key=f"template:{template_id}:{change.value}:{marker}:{digest(value)[:12]}",
        account_id=waba_id,
        change=change,
        template_id=template_id,
        name=value.get("message_template_name"),
        language=value.get("message_template_language"),
        status=status,
        reason=value.get("reason"),
        quality=quality,
        category=category,
        previous_category=value.get("previous_category"),
        timestamp=timestamp(value["timestamp"]) if value.get("timestamp") else None,
    )


def _preference(
    item: dict[str, Any], account_id: str, value: dict[str, Any]
) -> MarketingPreference:
    contacts = value.get("contacts") or []
    contact = next(
        (c for c in contacts if c.get("wa_id") == item.get("wa_id") and item.get("wa_id")),
        contacts[0] if len(contacts) == 1 else {},
    )
    profile = contact.get("profile") or {}
    when = item.get("timestamp")
    return MarketingPreference(
        key=f"preference:{account_id}:{digest(item)}",
        account_id=account_id,
        sender=Sender(
            user_id=item.get("user_id") or contact.get("user_id"),
            phone=item.get("wa_id") or contact.get("wa_id"),
            name=profile.get("name"),
            username=profile.get("username"),
        ),
        value=str(item["value"]),
        timestamp=timestamp(when) if when else None,
    )
