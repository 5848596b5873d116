"""Changing a channel: name, rate, verify token, token rotation, app secret, Graph API
version or base URL."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import Conflict, NotFound
from api.domain.identity.auth import Principal, SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelRepository,
    ChannelStatus,
    SecretName,
)
from api.domain.messaging.errors import ChannelCheckFailed
from api.domain.messaging.gateway import ChannelGateways
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.rules import (
    CHANNEL_NOT_FOUND,
    ChannelPolicy,
    ChannelView,
    audited_fields,
    channel_view,
    checked_profile,
    existing_channel,
    registered_webhook,
    with_profile,
)

_ADDRESS_FIELDS = ("api_version", "graph_base_url", "api_base_url")
DISCONNECTED = "The channel is disconnected; connect the account again to use it."


class ChannelChanges(BaseModel):
    """What to change; None leaves a field as it is (`clear_app_secret` removes it)."""

    model_config = ConfigDict(frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    access_token: str | None = None  # the channel's credential (Telegram: the bot token)
    app_secret: str | None = None
    clear_app_secret: bool = False
    verify_token: str | None = None
    messages_per_second: int | None = Field(default=None, ge=1, le=1000)
    api_version: str | None = None
    graph_base_url: str | None = None
    api_base_url: str | None = None  # Telegram's Bot API base


class UpdateChannel:
    """Change a channel (`channels:manage`).

    Rules: a disconnected channel cannot be changed (409). A new access token, API version
    or Graph base URL is checked with the provider before anything is saved (422
    `channel_check_failed`, secrets masked), and a channel whose token had stopped working
    becomes `active` again. A rotated token gets a new client at once (the old one is
    closed). Secrets are encrypted and never shown. Audited: `channel.updated`, with what
    changed and no secret.
    """

    def __init__(
        self,
        channels: ChannelRepository,
        gateways: ChannelGateways,
        secret_box: SecretBox,
        auditor: Auditor,
        policy: ChannelPolicy,
    ) -> None:
        self._channels = channels
        self._gateways = gateways
        self._box = secret_box
        self._auditor = auditor
        self._policy = policy

    async def execute(
        self, principal: Principal, channel_id: str, changes: ChannelChanges
    ) -> ChannelView:
        require_permission(principal, Permission.CHANNELS_MANAGE)
        before = await existing_channel(self._channels, channel_id)
        if before.status is ChannelStatus.DISCONNECTED:
            raise Conflict(DISCONNECTED)
        after = self._apply(before, changes)
        reconnects = changes.access_token is not None or any(
            getattr(after.settings, name, None) != getattr(before.settings, name, None)
            for name in _ADDRESS_FIELDS
        )
        if reconnects:
            profile = await checked_profile(
                self._gateways,
                after,
                plaintexts=(changes.access_token or "", changes.app_secret or ""),
            )
            after = with_profile(after, profile).model_copy(update={"status": ChannelStatus.ACTIVE})
            if after.account_id != before.account_id:  # e.g. another bot's token
                raise ChannelCheckFailed(
                    "These credentials are another account's; connect it as a new channel."
                )
        changed = diff(audited_fields(before), audited_fields(after))
        if changes.access_token is not None:
            changed["access_token_rotated"] = True
        if changes.app_secret is not None or (
            changes.clear_app_secret and before.secrets.has(SecretName.APP_SECRET)
        ):
            changed["app_secret_changed"] = True
        if after.verify_token != before.verify_token:
            changed["verify_token_changed"] = True
        if after == before:
            return channel_view(before, self._policy)
        saved = await self._channels.replace(after.model_copy(update={"updated_at": stored_now()}))
        if saved is None:
            raise NotFound(CHANNEL_NOT_FOUND)
        if reconnects:
            self._gateways.forget(channel_id)  # the next call builds a client on the new token
            # Telegram: the webhook again, through the new token (or base)
            await registered_webhook(self._gateways, self._box, saved, self._policy)
        await self._auditor.record(
            "channel.updated", "channel", channel_id, actor_id=principal.user_id,
            changes=audit_extra(principal, changed),
        )  # fmt: skip
        return channel_view(saved, self._policy)

    def _apply(self, channel: Channel, changes: ChannelChanges) -> Channel:
        secrets = channel.secrets
        if changes.access_token is not None:
            secrets = secrets.with_secret(
                channel.credential_secret, self._box.encrypt(changes.access_token)
            )
        if changes.app_secret is not None:
            secrets = secrets.with_secret(
                SecretName.APP_SECRET, self._box.encrypt(changes.app_secret)
            )
        elif changes.clear_app_secret:
            secrets = secrets.with_secret(SecretName.APP_SECRET, None)
        fields = type(channel.settings).model_fields
        settings = channel.settings.model_copy(
            update={
                k: v
                for k, v in {
                    "api_version": changes.api_version,
                    "graph_base_url": self._policy.graph_base_url_for(changes.graph_base_url)
                    if changes.graph_base_url
                    else None,
                    "api_base_url": self._policy.telegram_api_base_url_for(changes.api_base_url)
                    if changes.api_base_url
                    else None,
                }.items()
                if v is not None and k in fields  # a provider's own addresses only
            }
        )
        update: dict[str, object] = {"secrets": secrets, "settings": settings}
        for name in ("name", "verify_token", "messages_per_second"):
            value = getattr(changes, name)
            if value is not None:
                update[name] = value
        return channel.model_copy(update=update)
