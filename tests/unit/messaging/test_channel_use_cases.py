"""The channel use cases' rules with fakes: check before save, secrets encrypted and
masked, one connection per account, rotation, disconnection, permissions, audit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.domain.errors import Conflict, Forbidden, NotFound
from api.domain.messaging.channels import ChannelStatus, SecretName, WhatsAppSettings
from api.domain.messaging.errors import (
    ChannelCheckFailed,
    ChannelPermanentFailure,
    ChannelTransientFailure,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.kernel.auditor import Auditor
from api.usecases.messaging.connect_whatsapp_channel import ConnectWhatsAppChannel
from api.usecases.messaging.disconnect_channel import DisconnectChannel
from api.usecases.messaging.get_channel import GetChannel
from api.usecases.messaging.list_channels import ListChannels
from api.usecases.messaging.rules import ChannelPolicy
from api.usecases.messaging.update_channel import ChannelChanges, UpdateChannel
from tests.fakes.audit import FakeAuditLog
from tests.fakes.identity import FakeBox
from tests.fakes.messaging import FakeChannels, FakeGateways
from tests.fakes.plans import unlimited_gate
from tests.support.identity import TENANT, principal

POLICY = ChannelPolicy(
    webhook_base_url="https://parley.example.com/api/v1/webhooks",
    graph_base_url="https://graph.example.com",
    api_version="v26.0",
    messages_per_second=80,
)
MANAGER = principal("boss", {"channels:manage", "channels:read"})
READER = principal("rita", {"channels:read"})
TOKEN = "EAAG-secret-token"


@pytest.fixture(autouse=True)
def _tenant() -> Iterator[None]:
    with tenant_context(TenantId(TENANT)):
        yield


class World:
    def __init__(self) -> None:
        self.channels = FakeChannels()
        self.gateways = FakeGateways()
        self.audit = FakeAuditLog()
        auditor = Auditor(self.audit)
        box = FakeBox()
        self.connect = ConnectWhatsAppChannel(
            self.channels, self.gateways, box, auditor, POLICY, unlimited_gate()
        )
        self.update = UpdateChannel(self.channels, self.gateways, box, auditor, POLICY)
        self.disconnect = DisconnectChannel(self.channels, self.gateways, auditor)
        self.get = GetChannel(self.channels, POLICY)
        self.list = ListChannels(self.channels, POLICY)

    async def connected(self, **fields: str) -> str:
        view = await self.connect.execute(
            MANAGER, name="Support", phone_number_id=fields.get("phone", "111"),
            waba_id="222", access_token=TOKEN, app_secret="app-secret-1",
        )  # fmt: skip
        return view.id


async def test_connect_checks_then_stores_encrypted_secrets() -> None:
    world = World()
    channel_id = await world.connected()
    stored = world.channels.stored[channel_id]
    assert stored.secrets.get(SecretName.ACCESS_TOKEN) == "enc:" + TOKEN[::-1]
    assert isinstance(stored.settings, WhatsAppSettings)
    assert stored.settings.graph_base_url == "https://graph.example.com"
    assert stored.settings.display_phone_number == "+1 555-010-0199"
    assert len(world.gateways.checked) == 1 and world.gateways.checked[0].id is None
    view = await world.get.execute(READER, channel_id)
    assert view.webhook_url == f"https://parley.example.com/api/v1/webhooks/whatsapp/{channel_id}"
    assert view.has_access_token and view.has_app_secret and view.verify_token
    assert world.audit.actions() == ["channel.connected"]
    assert TOKEN not in str(world.audit.entries) and "app-secret-1" not in str(world.audit.entries)


@pytest.mark.parametrize(
    ("refusal", "says"),
    [
        (ChannelPermanentFailure(f"(#190) bad token {TOKEN}"), "refused"),
        (ChannelTransientFailure(f"down, token {TOKEN}"), "could not be reached"),
    ],
)
async def test_a_refused_check_saves_nothing_and_masks_secrets(
    refusal: Exception, says: str
) -> None:
    world = World()
    world.gateways.refuse = refusal
    with pytest.raises(ChannelCheckFailed) as failed:
        await world.connected()
    assert says in failed.value.detail and TOKEN not in failed.value.detail
    assert world.channels.stored == {} and world.audit.entries == []


async def test_an_account_is_connected_once() -> None:
    world = World()
    await world.connected()
    with pytest.raises(Conflict, match="already connected"):
        await world.connected()


async def test_permissions() -> None:
    world = World()
    with pytest.raises(Forbidden):
        await world.connect.execute(
            READER, name="x", phone_number_id="1", waba_id="2", access_token="t"
        )
    channel_id = await world.connected()
    with pytest.raises(Forbidden):
        await world.update.execute(READER, channel_id, ChannelChanges(name="y"))
    with pytest.raises(Forbidden):
        await world.disconnect.execute(READER, channel_id)
    nobody = principal("nobody", set())
    with pytest.raises(Forbidden):
        await world.get.execute(nobody, channel_id)
    with pytest.raises(Forbidden):
        await world.list.execute(nobody)


async def test_rotation_checks_the_new_token_and_drops_the_client() -> None:
    world = World()
    channel_id = await world.connected()
    world.channels.stored[channel_id] = world.channels.stored[channel_id].model_copy(
        update={"status": ChannelStatus.TOKEN_INVALID}
    )
    view = await world.update.execute(MANAGER, channel_id, ChannelChanges(access_token="EAAG-new"))
    assert view.status is ChannelStatus.ACTIVE
    assert world.gateways.checked[-1].secrets.get(SecretName.ACCESS_TOKEN) == "enc:wen-GAAE"
    assert world.gateways.forgotten == [channel_id]
    assert world.audit.entries[-1].changes["access_token_rotated"] is True


async def test_a_refused_rotation_changes_nothing() -> None:
    world = World()
    channel_id = await world.connected()
    before = world.channels.stored[channel_id]
    world.gateways.refuse = ChannelPermanentFailure("(#190) expired")
    with pytest.raises(ChannelCheckFailed):
        await world.update.execute(MANAGER, channel_id, ChannelChanges(access_token="EAAG-x"))
    assert world.channels.stored[channel_id] == before and world.gateways.forgotten == []


async def test_renaming_needs_no_check_and_nothing_is_a_no_op() -> None:
    world = World()
    channel_id = await world.connected()
    await world.update.execute(MANAGER, channel_id, ChannelChanges(name="Sales"))
    assert len(world.gateways.checked) == 1
    await world.update.execute(MANAGER, channel_id, ChannelChanges())
    assert world.audit.actions() == ["channel.connected", "channel.updated"]
    view = await world.update.execute(
        MANAGER, channel_id, ChannelChanges(verify_token="a-new-verify-token")
    )
    assert view.verify_token == "a-new-verify-token"
    assert world.channels.stored[channel_id].verify_token == "a-new-verify-token"
    assert world.audit.entries[-1].changes == {"verify_token_changed": True}


async def test_disconnect_erases_secrets_and_is_idempotent() -> None:
    world = World()
    channel_id = await world.connected()
    await world.disconnect.execute(MANAGER, channel_id)
    await world.disconnect.execute(MANAGER, channel_id)
    stored = world.channels.stored[channel_id]
    assert stored.status is ChannelStatus.DISCONNECTED and not stored.secrets.ciphertexts
    assert world.gateways.forgotten == [channel_id]
    assert world.audit.actions() == ["channel.connected", "channel.disconnected"]
    with pytest.raises(Conflict):
        await world.update.execute(MANAGER, channel_id, ChannelChanges(name="again"))
    await world.connected()  # the account is free again


async def test_another_tenants_channel_is_not_found() -> None:
    world = World()
    channel_id = await world.connected()
    with tenant_context(TenantId("b" * 24)):
        with pytest.raises(NotFound):
            await world.get.execute(READER, channel_id)
        assert (await world.list.execute(READER)).total == 0
