"""Helpers for template tests: Meta's documented template shapes as request bodies and
as the Graph API lists them, and the sync run the job runs (in a tenant)."""

from __future__ import annotations

from typing import Any

import punq

from api.domain.messaging.templates import SyncOutcome
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.sync_templates import SyncTemplates

TEMPLATES = "/api/v1/templates"

# Meta's "seasonal_promotion" example (positional placeholders, a URL button).
SEASONAL: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "TEXT", "text": "Our {{1}} is on!",
     "example": {"header_text": ["Summer Sale"]}},
    {"type": "BODY",
     "text": "Shop now through {{1}} and use code {{2}} to get {{3}} off of all merchandise.",
     "example": {"body_text": [["the end of August", "25OFF", "25%"]]}},
    {"type": "FOOTER", "text": "Use the buttons below to manage your marketing subscriptions"},
    {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "Unsubscribe from Promos"},
        {"type": "URL", "text": "Shop", "url": "https://www.example.com/shop/{{1}}",
         "example": ["https://www.example.com/shop/summer"]},
    ]},
]  # fmt: skip
# Meta's named-parameter example.
ORDER_CONFIRMATION: list[dict[str, Any]] = [
    {"type": "BODY",
     "text": "Thank you, {{first_name}}! Your order {{order_number}} is confirmed.",
     "example": {"body_text_named_params": [
         {"param_name": "first_name", "example": "Pablo"},
         {"param_name": "order_number", "example": "860198-230332"},
     ]}},
]  # fmt: skip


def template_body(channel_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel_id": channel_id,
        "name": "seasonal_promotion",
        "language": "en_US",
        "category": "MARKETING",
        "components": SEASONAL,
    }
    body.update(changes)
    return body


def listed(
    n: int,
    *,
    status: str = "APPROVED",
    category: str = "UTILITY",
    name: str | None = None,
    language: str = "en_US",
) -> dict[str, Any]:
    """A template as `GET /{waba_id}/message_templates` lists it."""
    return {
        "id": str(800000000000000 + n),
        "name": name or f"order_update_{n:03d}",
        "language": language,
        "status": status,
        "category": category,
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, order {{2}} shipped.",
                "example": {"body_text": [["Ann", f"A-{n}"]]},
            }
        ],
        "quality_score": {"score": "GREEN", "date": 1750263773},
    }


async def run_sync(container: punq.Container, tenant_id: str, channel_id: str) -> SyncOutcome:
    """What the `parley.templates.sync` job runs, in the tenant the job carries."""
    with tenant_context(TenantId(tenant_id)):
        outcome: SyncOutcome = await container.resolve(SyncTemplates).execute(channel_id)
    return outcome
