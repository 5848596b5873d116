"""What each provider's adapter gives the registry (`ProviderGateways` dispatches to it by
channel type), and what providers without some feature share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from api.domain.errors import ServiceUnavailable
from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import Channel, ChannelProfile, SecretName
from api.domain.messaging.errors import ChannelTokenInvalid, TemplatesNotSupported
from api.domain.messaging.events import InboundEvent
from api.domain.messaging.gateway import (
    ChannelGateway,
    ProviderTemplate,
    TemplateDraft,
    TemplateSubmitted,
)


@dataclass(frozen=True)
class ClientOptions:
    timeout_seconds: float = 30.0
    max_connections: int = 100


class ChannelProvider(Protocol):
    """One provider's adapter: its channels' gateways (clients cached per channel id),
    the credential check and its webhook parser."""

    def for_channel(self, channel: Channel) -> ChannelGateway: ...

    async def check(self, channel: Channel) -> ChannelProfile: ...

    def forget(self, channel_id: str) -> None: ...

    def parse_webhook(self, payload: dict[str, Any]) -> list[InboundEvent]: ...

    def cached_client_count(self) -> int: ...

    async def close(self) -> None: ...


def decrypted_secret(box: SecretBox, channel: Channel, name: SecretName) -> str:
    """A channel's secret in clear (adapters only): `ChannelTokenInvalid` when missing,
    `ServiceUnavailable` when it cannot be decrypted (the deployment's key changed)."""
    ciphertext = channel.secrets.get(name)
    if not ciphertext:
        raise ChannelTokenInvalid(f"The channel has no {name.value.replace('_', ' ')}.")
    try:
        return box.decrypt(ciphertext)
    except ValueError as exc:  # ENCRYPTION_KEY changed: the channel cannot be used
        raise ServiceUnavailable(
            "channel", detail="The channel's stored credentials cannot be decrypted."
        ) from exc


class DashboardWebhook:
    """The webhook calls of a provider whose webhook the tenant sets up in the provider's
    dashboard (Meta's): nothing to do."""

    async def register_webhook(self, url: str, secret_token: str) -> None:
        return None

    async def unregister_webhook(self) -> None:
        return None


class UnansweredPresses:
    """A provider whose button presses (replies, postbacks) need no answer: nothing to do."""

    async def answer_press(self, press_id: str) -> None:
        return None


class NoTemplates:
    """The template calls of a provider that has no templates: a clear, provider-neutral
    refusal (`TemplatesNotSupported`, 422)."""

    provider_name: str = "This provider"

    def _no_templates(self) -> NoReturn:
        raise TemplatesNotSupported(f"{self.provider_name} has no message templates.")

    async def list_templates(self) -> list[ProviderTemplate]:
        self._no_templates()

    async def create_template(self, draft: TemplateDraft) -> TemplateSubmitted:
        self._no_templates()

    async def delete_template(self, name: str, external_id: str | None) -> None:
        self._no_templates()
