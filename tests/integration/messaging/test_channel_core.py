"""The channel core on the real database: every provider's settings round-trip through
the channels collection (a WhatsApp channel stored before the union, without
`settings.type`, still loads), and a provider user id names one contact per tenant even
when first messages race (`contact_identities`)."""

from __future__ import annotations

import asyncio

from cryptography.fernet import Fernet

from api.common.clock import utcnow
from api.domain.messaging.channels import (
    ChannelSettings,
    ChannelType,
    InstagramSettings,
    MessengerSettings,
    TelegramSettings,
    WhatsAppSettings,
)
from api.domain.messaging.contacts import ChannelUserIdentity, ContactIdentity
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.messaging.channels import (
    BeanieChannelRepository,
    ChannelDocument,
)
from api.infrastructure.persistence.messaging.contact_identities import (
    BeanieContactIdentityRepository,
)
from api.infrastructure.persistence.messaging.contacts import BeanieContactRepository
from api.infrastructure.security.secret_box import FernetSecretBox
from tests.support.channels import whatsapp_channel


async def test_every_providers_settings_round_trip_and_old_whatsapp_loads() -> None:
    box = FernetSecretBox(Fernet.generate_key().decode())
    repository = BeanieChannelRepository()
    base = whatsapp_channel(box, "http://graph.invalid", channel_id=None, phone_number_id="9001")
    others: list[ChannelSettings] = [
        TelegramSettings(bot_id="777", bot_username="acme_bot", api_base_url="http://tg"),
        MessengerSettings(page_id="55", api_version="v26.0", graph_base_url="http://g"),
        InstagramSettings(
            instagram_account_id="1784",
            page_id="56",
            api_version="v26.0",
            graph_base_url="http://g",
            username="acme",
        ),
    ]
    with tenant_context(TenantId("core-t1")):
        stored = [await repository.add(base)]
        for settings in others:
            channel = base.model_copy(update={"type": settings.type, "settings": settings})
            stored.append(await repository.add(channel))
        for channel in stored:
            assert channel.id is not None
            again = await repository.get(channel.id)
            assert again is not None and again.settings == channel.settings
        assert [c.account_id for c in stored] == ["9001", "777", "55", "1784"]
        assert [c.business_account_id is None for c in stored] == [False, True, True, True]
        # A document written before the union: its settings have no `type`.
        collection = ChannelDocument.get_pymongo_collection()
        old = base.model_copy(
            update={"settings": WhatsAppSettings(**{
                **base.settings.model_dump(), "phone_number_id": "9002"})}
        )  # fmt: skip
        added = await repository.add(old)
        assert added.id is not None
        await collection.update_one(
            {"tenant_id": "core-t1", "settings.phone_number_id": "9002"},
            {"$unset": {"settings.type": ""}},
        )
        loaded = await repository.get(added.id)
        assert loaded is not None and isinstance(loaded.settings, WhatsAppSettings)
        assert loaded.type is ChannelType.WHATSAPP and loaded.account_id == "9002"


async def test_one_contact_per_provider_user_even_when_first_messages_race() -> None:
    identities = BeanieContactIdentityRepository()
    contacts = BeanieContactRepository()
    alice = ChannelUserIdentity(
        channel_type=ChannelType.TELEGRAM, account_id="bot-1", user_id="42", username="alice"
    )
    with tenant_context(TenantId("core-t2")):
        ids = await asyncio.gather(*(identities.contact_id_for(alice) for _ in range(8)))
        assert len(set(ids)) == 1
        made = await asyncio.gather(*(
            contacts.upsert_inbound_by_id(ids[0], "ch-1", ContactIdentity(name="Alice"), utcnow())
            for _ in range(4)
        ))  # fmt: skip
        assert {c.id for c in made if c} == {ids[0]}
        # The same user id of another bot (Messenger's PSIDs are page-scoped) is another.
        other = alice.model_copy(update={"account_id": "bot-2"})
        assert await identities.contact_id_for(other) != ids[0]
        # A deleted contact: the customer writing again gets a new one.
        assert await contacts.soft_delete(ids[0], utcnow())
        assert (
            await contacts.upsert_inbound_by_id(ids[0], "ch-1", ContactIdentity(), utcnow()) is None
        )
        fresh = await identities.reassign(alice, ids[0])
        assert fresh != ids[0] and await identities.contact_id_for(alice) == fresh
        assert await identities.of_contact(fresh) == [alice]
        assert await identities.move(fresh, "merged-into") == 1
        assert await identities.contact_id_for(alice) == "merged-into"
        assert await identities.user_id_on("merged-into", ChannelType.TELEGRAM, "bot-1") == "42"
        assert await identities.user_id_on("merged-into", ChannelType.TELEGRAM, "bot-2") is None
        # In bulk (a campaign's snapshot): only the contacts with a user id on that bot.
        bulk = await identities.user_ids_on(
            ["merged-into", fresh, "nobody"], ChannelType.TELEGRAM, "bot-1"
        )
        assert bulk == {"merged-into": "42"}
        assert await identities.user_ids_on([], ChannelType.TELEGRAM, "bot-1") == {}
    with tenant_context(TenantId("core-t3")):  # another tenant: its own contact
        assert await identities.contact_id_for(alice) not in {ids[0], fresh, "merged-into"}
        assert await identities.user_ids_on(["merged-into"], ChannelType.TELEGRAM, "bot-1") == {}
