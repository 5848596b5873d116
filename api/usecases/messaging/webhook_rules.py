"""What the webhook use cases share: the jobs' names, the deployment's webhook settings,
the signature and secret-token checks and the channel a delivery names."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from api.domain.errors import Forbidden, NotFound, Unauthorized
from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import Channel, ChannelStatus, ChannelType, SecretName
from api.domain.messaging.webhooks import ChannelLookup

PROCESS_WEBHOOK_JOB = "parley.webhooks.process"
SWEEP_WEBHOOKS_JOB = "parley.webhooks.sweep"
SIGNATURE_PREFIX = "sha256="


@dataclass(frozen=True)
class PlatformApp:
    """The platform's own Meta app for one channel type: its app secret (signs the
    platform webhook, and the webhooks of channels that have no secret of their own) and
    the verify token of its platform webhook; None: not configured."""

    app_secret: str | None = None
    verify_token: str | None = None


@dataclass(frozen=True)
class WebhookPolicy:
    """The platform's own Meta apps by channel type (WhatsApp's `WHATSAPP_APP_SECRET` and
    `WHATSAPP_VERIFY_TOKEN`; Messenger's and Instagram's `META_APP_SECRET` and
    `META_VERIFY_TOKEN`) and the processing settings."""

    platform_apps: Mapping[ChannelType, PlatformApp]
    item_lease_seconds: int
    sweep_after_seconds: float
    sweep_batch: int = 500

    def platform_app(self, type: ChannelType) -> PlatformApp:
        return self.platform_apps.get(type) or PlatformApp()


def check_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant
    time. Missing: `Unauthorized` (401); wrong, or no secret to check it with: `Forbidden`."""
    if not header:
        raise Unauthorized("The X-Hub-Signature-256 header is missing.")
    given = header.strip()
    if secret is None or not given.lower().startswith(SIGNATURE_PREFIX):
        raise Forbidden("The webhook signature is not valid.")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given[len(SIGNATURE_PREFIX) :].lower().encode()):
        raise Forbidden("The webhook signature is not valid.")


def check_secret_token(box: SecretBox, channel: Channel, given: str | None) -> None:
    """Telegram's `X-Telegram-Bot-Api-Secret-Token` (the `secret_token` Parley registered
    with `setWebhook`), compared in constant time: missing, wrong, or none stored is
    `Forbidden`."""
    ciphertext = channel.secrets.get(SecretName.WEBHOOK_SECRET_TOKEN)
    try:
        expected = box.decrypt(ciphertext) if ciphertext else None
    except ValueError:  # ENCRYPTION_KEY changed: nothing can match
        expected = None
    if not tokens_match(expected, given):
        raise Forbidden("The webhook secret token is not valid.")


def tokens_match(expected: str | None, given: str | None) -> bool:
    if expected is None or given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def named_channel(lookup: ChannelLookup, type: ChannelType, channel_id: str) -> Channel:
    """The connected channel a webhook URL names, in any tenant; `NotFound` otherwise."""
    channel = await lookup.by_id(channel_id)
    if channel is None or channel.type is not type or channel.status is ChannelStatus.DISCONNECTED:
        raise NotFound("There is no such channel.")
    return channel


def channel_secret(box: SecretBox, channel: Channel, policy: WebhookPolicy) -> str | None:
    """The channel's own app secret (decrypted), else the platform app's of its type."""
    ciphertext = channel.secrets.get(SecretName.APP_SECRET)
    return box.decrypt(ciphertext) if ciphertext else policy.platform_app(channel.type).app_secret
