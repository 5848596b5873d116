"""Helpers for channel tests: a fake Graph API per test and channels aimed at it."""

from __future__ import annotations

from typing import Any, cast

import httpx

from api.common.clock import utcnow
from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelSecrets,
    ChannelType,
    SecretName,
    WhatsAppSettings,
)
from tests.support.fake_graph import PHONE_NUMBER_ID, TOKEN, WABA_ID

CHANNELS = "/api/v1/channels"


def whatsapp_channel(
    box: SecretBox,
    graph_url: str,
    *,
    channel_id: str | None = "ch1",
    token: str = TOKEN,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> Channel:
    now = utcnow()
    return Channel(
        id=channel_id,
        type=ChannelType.WHATSAPP,
        name="Support",
        settings=WhatsAppSettings(
            phone_number_id=phone_number_id,
            waba_id=WABA_ID,
            api_version="v26.0",
            graph_base_url=graph_url,
        ),
        secrets=ChannelSecrets().with_secret(SecretName.ACCESS_TOKEN, box.encrypt(token)),
        verify_token="verify-me-please",
        messages_per_second=80,
        created_at=now,
        updated_at=now,
    )


def connect_body(graph_url: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Support line",
        "phone_number_id": PHONE_NUMBER_ID,
        "waba_id": WABA_ID,
        "access_token": TOKEN,
        "app_secret": "app-secret-0123456789",
        "graph_base_url": graph_url,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


async def connect(
    http: httpx.AsyncClient, headers: dict[str, str], graph_url: str, **changes: Any
) -> dict[str, Any]:
    response = await http.post(
        f"{CHANNELS}/whatsapp", json=connect_body(graph_url, **changes), headers=headers
    )
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())
